"""Z85 (RFC 32), CURVE keys and the security socket options, as libzmq names them."""

from __future__ import annotations

import errno
from collections.abc import Iterator

import pytest

import mqsdk

# libzmq's doc/zmq_curve.adoc test keys: Z85 text and the hex of the raw key.
DOC_KEYS = [
    (
        "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID",
        "BB88471D65E2659B30C55A5321CEBB5AAB2B70A398645C26DCA2B2FCB43FC518",
    ),
    (
        "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7",
        "54FCBA24E93249969316FB617C872BB0C1D1FF14800427C594CBFACF1BC2D652",
    ),
]
CLIENT_SECRET = "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs"
SERVER_SECRET = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6"


def test_z85_rfc32_vector() -> None:
    raw = bytes.fromhex("864FD26FB559F75B")
    assert mqsdk.z85_encode(raw) == b"HelloWorld"
    assert mqsdk.z85_decode(b"HelloWorld") == raw
    assert mqsdk.z85_decode("HelloWorld") == raw


@pytest.mark.parametrize(("text", "hexkey"), DOC_KEYS)
def test_z85_libzmq_doc_keys(text: str, hexkey: str) -> None:
    assert mqsdk.z85_decode(text) == bytes.fromhex(hexkey)
    assert mqsdk.z85_encode(bytes.fromhex(hexkey)) == text.encode()


def test_z85_round_trip_every_byte() -> None:
    data = bytes(range(256))
    assert mqsdk.z85_decode(mqsdk.z85_encode(data)) == data


@pytest.mark.parametrize("bad", [b"Hell", b"HelloWorl", b"Hello Worl", b"#####"])
def test_z85_rejects_bad_text(bad: bytes) -> None:
    with pytest.raises(ValueError):
        mqsdk.z85_decode(bad)


def test_z85_rejects_bad_length() -> None:
    with pytest.raises(ValueError, match="multiples of 4"):
        mqsdk.z85_encode(b"abc")


def test_curve_public_of_doc_secrets() -> None:
    assert mqsdk.curve_public(CLIENT_SECRET) == DOC_KEYS[0][0].encode()
    assert mqsdk.curve_public(SERVER_SECRET.encode()) == DOC_KEYS[1][0].encode()
    public, secret = mqsdk.curve_keypair()
    assert len(public) == len(secret) == 40
    assert mqsdk.curve_public(mqsdk.z85_decode(secret)) == public


@pytest.fixture
def ctx() -> Iterator[mqsdk.Context]:
    context = mqsdk.Context()
    yield context
    context.destroy(linger=0)


def test_mechanism_follows_the_last_option(ctx: mqsdk.Context) -> None:
    sock = ctx.socket(mqsdk.DEALER)
    assert sock.mechanism == 0
    sock.plain_username = b"admin"
    assert (sock.mechanism, sock.plain_server, sock.plain_username) == (1, 0, b"admin")
    sock.plain_server = 1
    assert (sock.mechanism, sock.plain_server) == (1, 1)
    sock.plain_server = 0
    assert sock.mechanism == 0
    sock.curve_server = 1
    assert (sock.mechanism, sock.curve_server) == (2, 1)
    sock.curve_serverkey = DOC_KEYS[1][0]
    assert (sock.mechanism, sock.curve_server) == (2, 0)
    assert sock.getsockopt(mqsdk.MECHANISM) == 2
    with pytest.raises(mqsdk.MQError, match="read-only"):
        sock.mechanism = 1


@pytest.mark.parametrize(
    "form",
    [
        DOC_KEYS[0][0],
        DOC_KEYS[0][0].encode(),
        DOC_KEYS[0][0].encode() + b"\x00",
        bytes.fromhex(DOC_KEYS[0][1]),
    ],
    ids=["z85-str", "z85-bytes", "z85-with-nul", "raw"],
)
def test_keys_in_every_form_read_back_as_z85(ctx: mqsdk.Context, form: object) -> None:
    sock = ctx.socket(mqsdk.DEALER)
    sock.curve_publickey = form
    sock.setsockopt(mqsdk.CURVE_SERVERKEY, form)
    assert sock.curve_publickey == DOC_KEYS[0][0].encode()
    assert sock.getsockopt(mqsdk.CURVE_SERVERKEY) == DOC_KEYS[0][0].encode()


@pytest.mark.parametrize("bad", [b"short", b"#" * 40, "é" * 40, 42])
def test_bad_keys_refused(ctx: mqsdk.Context, bad: object) -> None:
    sock = ctx.socket(mqsdk.DEALER)
    with pytest.raises(mqsdk.MQError) as info:
        sock.curve_secretkey = bad
    assert info.value.errno == 22
    assert sock.mechanism == 0


def test_zap_domain_and_credentials(ctx: mqsdk.Context) -> None:
    sock = ctx.socket(mqsdk.ROUTER)
    sock.zap_domain = "global"
    assert sock.zap_domain == b"global"
    sock.setsockopt(mqsdk.PLAIN_PASSWORD, b"pw")
    assert sock.plain_password == b"pw"
    with pytest.raises(mqsdk.MQError, match="255"):
        sock.plain_username = b"u" * 256


def test_a_missing_mechanisms_options_are_unknown_and_name_its_plugin() -> None:
    """With the PLAIN and CURVE plugins disabled, their options do not exist (they are
    declared by the plugins): AttributeError as an attribute, EINVAL naming the missing
    distribution by name or number, and never a silent fallback to NULL."""
    ctx = mqsdk.Context(config={"disable_plugins": ["curve", "plain"]})
    try:
        sock = ctx.socket(mqsdk.DEALER)
        with pytest.raises(AttributeError, match="curve_server"):
            sock.curve_server = 1
        with pytest.raises(mqsdk.MQError, match="mqsdk-mechanism-curve") as info:
            sock.setsockopt(mqsdk.CURVE_SERVER, 1)
        assert info.value.errno == errno.EINVAL
        with pytest.raises(mqsdk.MQError, match="mqsdk-mechanism-plain") as info:
            sock.set("plain_username", b"admin")
        assert info.value.errno == errno.EINVAL
        assert not hasattr(sock, "plain_username")
        assert sock.mechanism == 0
        sock.zap_domain = b"global"  # the kernel's own security options remain
        assert sock.zap_domain == b"global"
    finally:
        ctx.destroy(linger=0)


def test_keypair_without_curve_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MQSDK_DISABLE_PLUGINS", "curve")
    with pytest.raises(mqsdk.MQError, match="mqsdk-mechanism-curve"):
        mqsdk.curve_keypair()


def test_doctor_lists_the_mechanisms() -> None:
    import json

    from tests.test_cli import run_cli

    data = json.loads(run_cli("doctor", "--json").stdout)
    assert set(data["components"]["mechanism"]["usable"]) == {"NULL", "PLAIN", "CURVE"}
    text = run_cli("doctor", env={"MQSDK_DISABLE_PLUGINS": "curve"}).stdout
    assert "mechanisms usable: NULL, PLAIN" in text


def test_incomplete_curve_configuration_refused_at_connect(ctx: mqsdk.Context) -> None:
    client = ctx.socket(mqsdk.PUSH)
    client.curve_serverkey = mqsdk.curve_keypair()[0]
    with pytest.raises(mqsdk.MQError, match="curve_secretkey"):
        client.connect("tcp://127.0.0.1:5555")
    server = ctx.socket(mqsdk.PULL)
    server.curve_server = 1
    with pytest.raises(mqsdk.MQError, match="curve_secretkey"):
        server.bind("tcp://127.0.0.1:*")
