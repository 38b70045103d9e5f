import { startEchoBackend } from './test/support/echo-backend.ts';
const b = await startEchoBackend({ name: 'x', host: '127.0.0.11' });
console.log(b.address);
await b.close();
