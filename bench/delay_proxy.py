#!/usr/bin/env python3
# pqx bench: a TCP proxy on 127.0.0.1 that holds every byte for a fixed time
# each way, so that a loopback run sees a network's round trip (no loss, no
# bandwidth limit).
# Usage: delay_proxy.py LISTEN_PORT TARGET_PORT ONE_WAY_MS
import asyncio
import sys

LISTEN, TARGET, DELAY = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]) / 1000.0


async def pump(reader, writer):
    """Copies reader to writer, each read DELAY seconds after it arrived, in order."""
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()

    async def deliver():
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                if writer.can_write_eof():
                    writer.write_eof()
                return
            writer.write(data)
            await writer.drain()

    out = asyncio.create_task(deliver())
    while True:
        data = await reader.read(1 << 20)
        await queue.put((loop.time() + DELAY, data))
        if not data:
            break
    await out


async def handle(creader, cwriter):
    try:
        sreader, swriter = await asyncio.open_connection("127.0.0.1", TARGET)
    except OSError:
        cwriter.close()
        return
    await asyncio.gather(pump(creader, swriter), pump(sreader, cwriter), return_exceptions=True)
    for w in (cwriter, swriter):
        w.close()


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", LISTEN)
    async with server:
        await server.serve_forever()


asyncio.run(main())
