import inspect
import subprocess
import sys

import faultio


def test_all_is_alphabetised_and_every_name_resolves():
    assert faultio.__all__ == sorted(faultio.__all__, key=lambda n: (not n.isupper(), n))
    for name in faultio.__all__:
        assert getattr(faultio, name) is not None


def test_the_realism_profiles_are_public_and_raw_is_the_default_everywhere():
    from faultio._realfd import real_socketpair

    assert faultio.PROFILES == ("raw", "cpython") and "PROFILES" in faultio.__all__
    for make in (faultio.socketpair, real_socketpair):
        assert inspect.signature(make).parameters["profile"].default == "raw"


def test_stream_signatures_match_the_tornado_4_interface():
    S = faultio.BaseIOStream
    init = inspect.signature(S.__init__).parameters
    assert list(init) == ["self", "io_loop", "max_buffer_size", "read_chunk_size", "max_write_buffer_size"]
    assert all(init[name].default is None for name in list(init)[1:])
    assert list(inspect.signature(S.read_bytes).parameters) == [
        "self", "num_bytes", "callback", "streaming_callback", "partial"]
    assert list(inspect.signature(S.read_until).parameters) == ["self", "delimiter", "callback", "max_bytes"]
    assert list(inspect.signature(S.read_until_regex).parameters) == ["self", "regex", "callback", "max_bytes"]
    assert list(inspect.signature(S.read_until_close).parameters) == ["self", "callback", "streaming_callback"]
    assert list(inspect.signature(S.write).parameters) == ["self", "data", "callback"]
    assert list(inspect.signature(S.close).parameters) == ["self", "exc_info"]
    for name in ["set_close_callback", "closed", "reading", "writing"]:
        assert callable(getattr(S, name))
    assert issubclass(faultio.IOStream, S) and issubclass(faultio.SSLIOStream, faultio.IOStream)


def test_defaults_follow_the_seed():
    loop = faultio.IOLoop()
    sock, _ = faultio.socketpair(loop)
    stream = faultio.IOStream(sock, io_loop=loop)
    assert stream.max_buffer_size == 104857600
    assert stream.read_chunk_size == 65536
    small = faultio.IOStream(faultio.socketpair(loop)[0], io_loop=loop, max_buffer_size=1000)
    assert small.read_chunk_size == 500
    assert stream.error is None


def test_importing_faultio_does_not_load_pyopenssl():
    code = "import faultio, sys; print('OpenSSL' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
