// Uploads one file with tus-js-client, as browser and Node users do; prints {"url": ...} on success.
// usage: node tus_js_upload.mjs ENDPOINT TOKEN FILE parallel|interrupt [tus-v1|ietf-draft-03|ietf-draft-05]
import {readFileSync} from 'node:fs'
import {basename} from 'node:path'
import * as tus from 'tus-js-client'

const [endpoint, token, file, mode, protocol = 'tus-v1'] = process.argv.slice(2)
const data = readFileSync(file)

function upload (options) {
  return new tus.Upload(data, {
    endpoint,
    headers: {Authorization: `Token ${token}`},
    metadata: {filename: basename(file), filetype: 'video/mp4'},
    retryDelays: [0, 200, 500],
    protocol,
    ...options,
  })
}

function run (instance) {
  return new Promise((resolve, reject) => {
    instance.options.onSuccess = () => resolve(instance.url)
    instance.options.onError = reject
    instance.start()
  })
}

let url
let resumedFrom = null
if (mode === 'parallel') {
  url = await run(upload({parallelUploads: 3}))
} else {
  // Interrupt once a third has gone, then resume the same upload: tus-js-client asks HEAD for the offset.
  const instance = upload({chunkSize: 64 * 1024})
  let aborted = false
  await new Promise((resolve, reject) => {
    instance.options.onProgress = (sent, total) => {
      if (!aborted && sent > total / 3) {
        aborted = true
        instance.abort().then(resolve, reject)
      }
    }
    instance.options.onError = reject
    instance.start()
  })
  instance.options.onProgress = (sent) => { resumedFrom ??= sent }
  url = await run(instance)
}
console.log(JSON.stringify({url, resumedFrom}))
