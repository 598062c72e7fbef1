// Starts dynalite (the local DynamoDB) for `make local-up`.
//
// Why not dynalite's own cli.js: dynalite rethrows an error on an incoming request
// (`req.on('error', function (err) { throw err })`), so a client that gives up on a request
// mid-body - an SDK call whose context times out, a test that is cancelled - kills the whole
// server and every later test fails with "connection refused". Here such an aborted request is
// logged and dropped; any other uncaught error still ends the process.
//
// Usage: node dynalite.js --host 127.0.0.1 --port 8000 [--path DIR]
//
// --path keeps the tables in LevelDB files under DIR instead of in memory: for benchmarks that
// store millions of items (in memory, 3M findings take dynalite to about 20 GB).
'use strict'
const dynalite = require('dynalite')

function flag (name, fallback) {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback
}

process.on('uncaughtException', (err) => {
  if (err && (err.code === 'ECONNRESET' || err.message === 'aborted')) {
    console.error(`dynalite: a client aborted a request (${err.code || err.message}); carrying on`)
    return
  }
  console.error(err)
  process.exit(1)
})

// Tables become ACTIVE at once: each test creates its own, and production behaviour (CREATING
// for a while) is awaited by localstack.EnsureTable either way.
const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0, path: flag('path', undefined) })
server.listen(Number(flag('port', 8000)), flag('host', '127.0.0.1'), () => {
  const a = server.address()
  console.log(`Dynalite listening at: http://${a.address}:${a.port}`)
})
