"""Local fakes of the outside services the tests and benchmarks talk to."""

from tests.fakes.wechat import FakeWeChat, Fault, Sent, serve, start

__all__ = ["FakeWeChat", "Fault", "Sent", "serve", "start"]
