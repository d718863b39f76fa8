// The official JavaScript SDK (@bitrix24/b24jssdk) against the sandbox's HTTPS webhook.
//
//   NODE_EXTRA_CA_CERTS=<ca.pem> node scenarios.mjs <scenario> <webhook-url> [arg]
//
// Each scenario drives the SDK the way its docs show and prints one JSON object: what the SDK
// handed back. tests/sdk/test_b24jssdk.py makes the assertions (and checks the portal's database).
import { B24Hook, B24OAuth } from '@bitrix24/b24jssdk'

const [scenario, webhookUrl, arg] = process.argv.slice(2)
const b24 = B24Hook.fromWebhookUrl(webhookUrl)
b24.offClientSideWarning() // a server-side script: the warning is for browsers

async function call (method, params) {
  const response = await b24.actions.v2.call.make({ method, params })
  if (!response.isSuccess) {
    throw new Error(`${method}: ${response.getErrorMessages().join('; ')}`)
  }
  return response.getData().result
}

const scenarios = {
  async crud () {
    const id = await call('crm.deal.add', { fields: { TITLE: 'From b24jssdk', OPPORTUNITY: '720.25', CURRENCY_ID: 'EUR' } })
    const read = await call('crm.deal.get', { id })
    const updated = await call('crm.deal.update', { id, fields: { TITLE: 'Renamed by b24jssdk' } })
    const reread = await call('crm.deal.get', { id })
    return { id, read, updated, reread }
  },

  async delete () {
    return { deleted: await call('crm.deal.delete', { id: Number(arg) }) }
  },

  async rows () {
    const id = Number(arg)
    const rows = [
      { PRODUCT_NAME: 'Licence & support', PRICE: '100.00', QUANTITY: 3 },
      { PRODUCT_NAME: 'Setup [on site]', PRICE: '40.50', QUANTITY: 2 }
    ]
    const set = await call('crm.deal.productrows.set', { id, rows })
    return { set, rows: await call('crm.deal.productrows.get', { id }), deal: await call('crm.deal.get', { id }) }
  },

  // The universal family (crm.item.productrow.*) over the same rows, ownerType 'D'.
  async itemRows () {
    const ownerId = Number(arg)
    await call('crm.deal.productrows.set', { id: ownerId, rows: [{ PRODUCT_NAME: 'Licence', PRICE: '100.00', QUANTITY: 2 }] })
    const added = await call('crm.item.productrow.add', {
      fields: { ownerId, ownerType: 'D', productName: 'Setup', price: 50, quantity: 1 }
    })
    const listed = await call('crm.item.productrow.list', { filter: { '=ownerType': 'D', '=ownerId': ownerId } })
    return { added, listed, legacy: await call('crm.deal.productrows.get', { id: ownerId }) }
  },

  async contacts () {
    const id = Number(arg)
    const set = await call('crm.deal.contact.items.set', { id, items: [{ CONTACT_ID: 4 }, { CONTACT_ID: 6, IS_PRIMARY: 'Y' }] })
    return { set, bound: await call('crm.deal.contact.items.get', { id }) }
  },

  async layout () {
    const data = JSON.parse(arg)
    const extras = { dealCategoryId: 1 }
    const set = await call('crm.item.details.configuration.set', { entityTypeId: 2, scope: 'C', extras, data })
    return {
      set,
      asItem: await call('crm.item.details.configuration.get', { entityTypeId: 2, scope: 'C', extras }),
      asDeal: await call('crm.deal.details.configuration.get', { scope: 'C', extras })
    }
  },

  async batch () {
    const asArray = await b24.actions.v2.batch.make({
      calls: [['crm.deal.get', { id: 1 }], { method: 'crm.deal.get', params: { id: 2 } }],
      options: { isHaltOnError: true }
    })
    const asObject = await b24.actions.v2.batch.make({
      calls: { deal: ['crm.deal.get', { id: 1 }], currencies: { method: 'crm.currency.list' } },
      options: { isHaltOnError: true }
    })
    return {
      array: { ok: asArray.isSuccess, ids: asArray.getData().map(deal => deal.ID) },
      object: {
        ok: asObject.isSuccess,
        keys: Object.keys(asObject.getData()).sort(),
        dealId: asObject.getData().deal.ID,
        currencies: asObject.getData().currencies.map(c => c.CURRENCY).sort()
      }
    }
  },

  async chunk () {
    const ids = arg.split(',').map(Number)
    const response = await b24.actions.v2.batchByChunk.make({
      calls: ids.map(id => ['crm.deal.get', { id, }]),
      options: { isHaltOnError: true }
    })
    return { ok: response.isSuccess, errors: response.getErrorMessages(), ids: response.getData().map(d => Number(d.ID)) }
  },

  async lists () {
    const params = { filter: { SOURCE_ID: arg }, select: ['ID', 'TITLE'] }
    const callList = await b24.actions.v2.callList.make({ method: 'crm.deal.list', params })
    const fetched = []
    let pages = 0
    for await (const page of b24.actions.v2.fetchList.make({ method: 'crm.deal.list', params })) {
      fetched.push(...page.map(d => Number(d.ID)))
      pages += 1
    }
    // The 2.x names, deprecated but still shipped: callListMethod (offset pages, progress).
    const legacy = await b24.callListMethod('crm.deal.list', params)
    return {
      callList: { ok: callList.isSuccess, ids: callList.getData().map(d => Number(d.ID)) },
      fetchList: { pages, ids: fetched },
      callListMethod: { ok: legacy.isSuccess, ids: legacy.getData().map(d => Number(d.ID)) }
    }
  },

  // An app's tokens (B24OAuth): REST at https://<portal>/rest/ with `auth`; on 401 expired_token
  // the SDK refreshes at <serverEndpoint without rest/>/oauth/token/ and retries the call.
  async oauth () {
    const given = JSON.parse(arg)
    const portal = new URL(webhookUrl)
    const b24o = new B24OAuth({
      applicationToken: '',
      userId: given.userId,
      memberId: given.memberId,
      accessToken: given.accessToken,
      refreshToken: given.refreshToken,
      expires: given.expires,
      expiresIn: 3600,
      scope: 'crm,user',
      domain: portal.host,
      clientEndpoint: `${portal.origin}/rest/`,
      serverEndpoint: `${portal.origin}/rest/`,
      status: 'L'
    }, { clientId: given.clientId, clientSecret: given.clientSecret })
    b24o.offClientSideWarning()
    const renewed = []
    b24o.setCallbackRefreshAuth(async ({ authData }) => { renewed.push(authData.access_token) })
    const user = await b24o.actions.v2.call.make({ method: 'user.current' })
    return { ok: user.isSuccess, id: user.getData().result.ID, renewed }
  },

  // What the SDK makes of the legacy CRM error envelope, whose `error` code is empty.
  async emptyErrorCode () {
    const batch = await b24.actions.v2.batch.make({
      calls: [['crm.deal.get', { id: 1 }], ['crm.deal.get', { id: Number(arg) }]],
      options: { isHaltOnError: false, returnAjaxResult: true }
    })
    const commands = batch.getData().map(r => ({ ok: r.isSuccess, errors: r.getErrorMessages() }))
    let single
    try {
      const response = await b24.actions.v2.call.make({ method: 'crm.deal.get', params: { id: Number(arg) } })
      single = { threw: false, ok: response.isSuccess, errors: response.getErrorMessages() }
    } catch (error) {
      single = { threw: true, code: error.code, status: error.status, description: error.description ?? error.message }
    }
    return { batchOk: batch.isSuccess, commands, single }
  }
}

const run = scenarios[scenario]
if (!run) {
  console.error(`unknown scenario ${scenario}`)
  process.exit(2)
}
process.stdout.write(JSON.stringify(await run()))
