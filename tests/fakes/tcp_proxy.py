"""A TCP proxy on a loopback port in front of PostgreSQL, which the tests own: `cut()`
closes the listener and every proxied connection (clients see resets and refused
connections: a database outage), `restore()` listens on the same port again.
PostgreSQL itself is never touched."""

from __future__ import annotations

import asyncio

from sqlalchemy.engine import make_url


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0  # chosen at the first start, kept on restore
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @staticmethod
    def for_url(db_url: str) -> TcpProxy:
        url = make_url(db_url)
        return TcpProxy(url.host or "127.0.0.1", url.port or 5432)

    def url(self, db_url: str) -> str:
        """`db_url` through this proxy (after `start`)."""
        return make_url(db_url).set(host="127.0.0.1", port=self.port).render_as_string(
            hide_password=False)

    async def start(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port,
                                                  reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for w in list(self._writers):
            w.transport.abort()  # a reset, as a lost link or a restarted server gives
        self._writers.clear()

    async def restore(self) -> None:
        await self.start()

    async def stop(self) -> None:
        await self.cut()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
                      ) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        self._writers -= {writer, up_writer}


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    try:
        while data := await src.read(65536):
            dst.write(data)
            await dst.drain()
    except (OSError, asyncio.CancelledError):
        pass
    finally:
        dst.transport.abort()
