"""A FIX 4.4 initiator for the tests: QuickFIX (the `quickfix-ssl` wheel) with the standard
FIX44.xml data dictionary, validating what it receives (QuickFIX itself: an invalid message is
answered with a Reject and never delivered) and what it sends (`DataDictionary.validate`)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import quickfix as fix
import quickfix44 as fix44

from hedgemesh.execution.domain.fix.codec import FixMessage, Framer, Tag

DICTIONARY = Path(sys.prefix) / "share" / "quickfix" / "FIX44.xml"
US = "HEDGEMESH"


class Client(fix.Application):  # type: ignore[misc]
    """Collects what arrives; `send` builds and sends an order message."""

    def __init__(self, password: str) -> None:
        super().__init__()
        self.password = password
        self.dictionary = fix.DataDictionary(str(DICTIONARY))
        self.session_id: fix.SessionID | None = None
        self.logged_on = threading.Event()
        self.logons = 0
        self.app: list[FixMessage] = []
        self.admin: list[FixMessage] = []
        self.invalid_sent: list[str] = []
        self._lock = threading.Lock()

    # -- QuickFIX callbacks ---------------------------------------------------------------------

    def onCreate(self, session_id: fix.SessionID) -> None:
        self.session_id = session_id

    def onLogon(self, session_id: fix.SessionID) -> None:
        self.logons += 1
        self.logged_on.set()

    def onLogout(self, session_id: fix.SessionID) -> None:
        self.logged_on.clear()

    def toAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        if message.getHeader().getField(35) == "A":
            message.setField(fix.Password(self.password))
        self._check(message)

    def fromAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        self._keep(self.admin, message)

    def toApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        self._check(message)

    def fromApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        self._keep(self.app, message)

    def _keep(self, into: list[FixMessage], message: fix.Message) -> None:
        (parsed,) = Framer().feed(message.toString().encode())
        assert isinstance(parsed, FixMessage)
        with self._lock:
            into.append(parsed)

    def _check(self, message: fix.Message) -> None:
        try:
            self.dictionary.validate(message)
        except Exception as error:  # what QuickFIX raises is its own type per problem
            self.invalid_sent.append(f"{message.toString()}: {error}")

    # -- for the tests ---------------------------------------------------------------------------

    def reports(self, cl_ord_id: str | None = None) -> list[FixMessage]:
        """ExecutionReports received (of one ClOrdID, or OrigClOrdID)."""
        with self._lock:
            found = [m for m in self.app if m.msg_type == "8"]
        if cl_ord_id is None:
            return found
        return [m for m in found if cl_ord_id in (m.get(Tag.CL_ORD_ID), m.get(Tag.ORIG_CL_ORD_ID))]

    def of_type(self, msg_type: str) -> list[FixMessage]:
        with self._lock:
            return [m for m in self.app + self.admin if m.msg_type == msg_type]

    def send(self, message: fix.Message) -> None:
        assert self.session_id is not None
        fix.Session.sendToTarget(message, self.session_id)

    def new_order(
        self, cl_ord_id: str, side: str, qty: int, ord_type: str = "2",
        price: float | None = None, tif: str | None = None, symbol: str = "SPX",
    ) -> None:  # fmt: skip
        message = _message(
            fix44.NewOrderSingle(),
            fix.ClOrdID(cl_ord_id), fix.Side(side), fix.TransactTime(), fix.OrdType(ord_type),
            fix.Symbol(symbol),
        )  # fmt: skip
        message.setField(fix.OrderQty(qty))
        if price is not None:
            message.setField(fix.Price(price))
        if tif is not None:
            message.setField(fix.TimeInForce(tif))
        self.send(message)

    def cancel(self, cl_ord_id: str, orig: str, side: str, qty: int, symbol: str = "SPX") -> None:
        message = _message(
            fix44.OrderCancelRequest(),
            fix.OrigClOrdID(orig), fix.ClOrdID(cl_ord_id), fix.Side(side), fix.TransactTime(),
            fix.Symbol(symbol), fix.OrderQty(qty),
        )  # fmt: skip
        self.send(message)

    def replace(
        self, cl_ord_id: str, orig: str, side: str, qty: int, price: float,
        tif: str = "1", symbol: str = "SPX",
    ) -> None:  # fmt: skip
        message = _message(
            fix44.OrderCancelReplaceRequest(),
            fix.OrigClOrdID(orig), fix.ClOrdID(cl_ord_id), fix.Side(side), fix.TransactTime(),
            fix.OrdType("2"), fix.Symbol(symbol), fix.OrderQty(qty), fix.Price(price),
            fix.TimeInForce(tif),
        )  # fmt: skip
        self.send(message)


def _message(message: fix.Message, *fields: Any) -> fix.Message:
    for field in fields:
        message.setField(field)
    return message


def settings_file(folder: Path, port: int, sender: str = "CLIENT1", heartbeat_s: int = 30) -> Path:
    """A QuickFIX initiator's settings: the data dictionary on, stores under `folder`."""
    path = folder / "initiator.cfg"
    path.write_text(
        "[DEFAULT]\n"
        "ConnectionType=initiator\n"
        "ReconnectInterval=1\n"
        f"FileStorePath={folder / 'store'}\n"
        f"FileLogPath={folder / 'log'}\n"
        "StartTime=00:00:00\nEndTime=00:00:00\n"
        "UseDataDictionary=Y\n"
        f"DataDictionary={DICTIONARY}\n"
        "ValidateFieldsOutOfOrder=Y\nValidateFieldsHaveValues=Y\nValidateUserDefinedFields=Y\n"
        "LogonTimeout=5\nLogoutTimeout=2\n"
        "[SESSION]\n"
        "BeginString=FIX.4.4\n"
        f"SenderCompID={sender}\nTargetCompID={US}\n"
        f"SocketConnectHost=127.0.0.1\nSocketConnectPort={port}\n"
        f"HeartBtInt={heartbeat_s}\n"
    )
    return path


@contextmanager
def initiator(client: Client, settings: Path) -> Iterator[fix.SocketInitiator]:
    """A started SocketInitiator (its store and log in files), stopped at the end."""
    session_settings = fix.SessionSettings(str(settings))
    started = fix.SocketInitiator(
        client, fix.FileStoreFactory(session_settings), session_settings,
        fix.FileLogFactory(session_settings),
    )  # fmt: skip
    started.start()
    try:
        yield started
    finally:
        started.stop(True)
