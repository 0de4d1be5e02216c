// kafkajs against a keel broker, for tests/clients_metadata_only.rs: keel brokers serve
// metadata only, so a producer or a group consumer must fail at once. Run as
//
//     node metadata_only.js MODE BOOTSTRAP TOPIC      (MODE: producer or group)
//
// with kafkajs on NODE_PATH. Prints one line
//
//     RESULT kafkajs <mode> <seconds> <outcome>: <error name>: <error text>
//
// (outcome `failed`, `no-error` or `timeout` after 10 s) and exits 0; 3 if kafkajs is missing.
// kafkajs has no assigned (group-less) consumer.
const [mode, bootstrap, topic] = process.argv.slice(2)
let kafkajs
try {
  kafkajs = require('kafkajs')
} catch (e) {
  console.log('NOT INSTALLED kafkajs')
  process.exit(3)
}
const { Kafka, logLevel } = kafkajs
const start = Date.now()
const report = (outcome, error) => {
  const what = error ? `${error.name}: ${error.message}` : '-'
  console.log(`RESULT kafkajs ${mode} ${((Date.now() - start) / 1000).toFixed(3)} ${outcome}: ${what}`)
  process.exit(0)
}
setTimeout(() => report('timeout'), 10000)
const kafka = new Kafka({ brokers: [bootstrap], logLevel: logLevel.NOTHING })
;(async () => {
  if (mode === 'producer') {
    const producer = kafka.producer()
    await producer.connect()
    await producer.send({ topic, messages: [{ value: 'hello' }] })
    report('no-error')
  } else {
    const consumer = kafka.consumer({ groupId: 'keel-test', retry: { retries: 0 } })
    consumer.on(consumer.events.CRASH, (event) => report('failed', event.payload.error))
    await consumer.connect()
    await consumer.subscribe({ topics: [topic] })
    await consumer.run({ eachMessage: async () => {} })
  }
})().catch((error) => report('failed', error))
