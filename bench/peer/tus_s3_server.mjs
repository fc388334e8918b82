// @tus/server with @tus/s3-store on loopback: the peer our S3 upload path is measured against.
import http from 'node:http'
import {Server} from '@tus/server'
import {S3Store} from '@tus/s3-store'

const [port, endpoint, bucket, partSize] = process.argv.slice(2)
const datastore = new S3Store({
  partSize: Number(partSize),
  s3ClientConfig: {
    bucket,
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    credentials: {accessKeyId: 'bench', secretAccessKey: 'bench'},
  },
})
const tus = new Server({path: '/files', datastore})
http.createServer((req, res) => tus.handle(req, res)).listen(Number(port), '127.0.0.1', () => {
  console.log(`ready ${port}`)
})
