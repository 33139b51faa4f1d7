"""A run's open device sessions: one per (device, runner settings), reused, all closed at the end."""

from devices.catalog import get_device
from devices.pool import SessionPool
from devices.session import DeviceSession


def test_one_session_per_device_and_settings_all_closed_at_the_end(monkeypatch):
    opened, closed = [], []
    real_enter, real_exit = DeviceSession.__enter__, DeviceSession.__exit__
    monkeypatch.setattr(DeviceSession, "__enter__", lambda self: (opened.append(self), real_enter(self))[1])
    monkeypatch.setattr(DeviceSession, "__exit__", lambda self, *exc: (closed.append(self), real_exit(self, *exc))[1])
    spec = get_device("local-ort-cpu")
    timing = spec.model_copy(update={"runner": spec.runner.model_copy(update={"passes": 1, "drift_anchor": False})})
    with SessionPool() as pool:
        first = pool.session(spec)
        assert pool.session(get_device("local-ort-cpu")) is first  # an equal spec: the same open session
        other = pool.session(timing)
        assert other is not first and other.spec.runner.passes == 1 and len(pool) == 2
        assert first.fingerprint()["device"] == "local-ort-cpu"  # a live session: its runner answers
        assert closed == []
    assert opened == [first, other] and closed == [other, first]  # closed once each, the last opened first
