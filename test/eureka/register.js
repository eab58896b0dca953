// Registers one instance with eureka-js-client (Netflix's protocol as the
// official JavaScript client speaks it: its own payloads, heartbeats every
// 500 ms) with each Eureka server given (one client per server, as Eureka
// peers would replicate the registration), and keeps it alive until stdin
// closes; then deregisters it and exits. A line "status S" on stdin
// re-registers it with status S (how a Eureka client reports DOWN).
// Used by test/eureka; eureka-js-client comes from NODE_PATH (the cache
// `make eureka-js-client` fills).
//
//   node register.js URL[,URL...] APP INSTANCE_ID IP PORT ZONE
const { Eureka } = require('eureka-js-client');
const readline = require('readline');

const [urls, app, id, ip, appPort, zone] = process.argv.slice(2);
const quiet = { debug() {}, info() {}, warn: console.error, error: console.error };

const clients = urls.split(',').map((raw) => {
  const u = new URL(raw);
  return new Eureka({
    logger: quiet,
    instance: {
      app,
      instanceId: id,
      hostName: id,
      ipAddr: ip,
      status: 'UP',
      port: { $: Number(appPort), '@enabled': true },
      securePort: { $: 443, '@enabled': false },
      vipAddress: app.toLowerCase(),
      secureVipAddress: app.toLowerCase(),
      statusPageUrl: `http://${ip}:${appPort}/info`,
      dataCenterInfo: { '@class': 'com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo', name: 'MyOwn' },
      metadata: { zone },
    },
    eureka: {
      host: u.hostname,
      port: Number(u.port),
      servicePath: u.pathname.replace(/\/$/, '') + '/apps/',
      fetchRegistry: false,
      heartbeatInterval: 500,
      maxRetries: 3,
      requestRetryDelay: 200,
    },
  });
});

let started = 0;
clients.forEach((c) => c.start((err) => {
  if (err) {
    console.error('register failed:', err.message || err);
    process.exit(1);
  }
  if (++started === clients.length) console.log('registered');
}));

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const [cmd, arg] = line.trim().split(/\s+/);
  if (cmd !== 'status') return;
  let done = 0;
  clients.forEach((c) => {
    // eureka-js-client's register() always sends UP, so the client's own
    // request path (eurekaRequest: its base URL, retries, JSON) sends its
    // own instance payload with the new status: a re-registration, which
    // is how Eureka's Java client reports a status change too
    // (InstanceInfoReplicator -> DiscoveryClient.register).
    const instance = Object.assign({}, c.config.instance, { status: arg });
    c.eurekaRequest({ method: 'POST', uri: instance.app, json: true, body: { instance } }, (err, resp) => {
      if (err || resp.statusCode !== 204) console.error('re-register failed:', err ? err.message : resp.statusCode);
      if (++done === clients.length) console.log('status ' + arg);
    });
  });
});
rl.on('close', () => {
  let done = 0;
  clients.forEach((c) => c.stop(() => {
    if (++done === clients.length) {
      console.log('deregistered');
      process.exit(0);
    }
  }));
});
