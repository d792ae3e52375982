"""Committed generated code is what scripts/gen-protos makes, and it loads on every runtime
from the oldest supported Home Assistant's pins to the newest's."""

from __future__ import annotations

import json
import re
import subprocess
from importlib import metadata
from pathlib import Path

from homeassistant import const as ha_const

from custom_components.wgtwo.client.proto.wgtwo.callforward.v0 import callforward_pb2
from custom_components.wgtwo.client.proto.wgtwo.common.v0 import identifiers_pb2, status_pb2
from custom_components.wgtwo.client.proto.wgtwo.consents.v0 import consents_pb2
from custom_components.wgtwo.client.proto.wgtwo.consents.v1 import consent_events_pb2
from custom_components.wgtwo.client.proto.wgtwo.events.v0 import events_pb2
from custom_components.wgtwo.client.proto.wgtwo.events.v1 import stream_pb2
from custom_components.wgtwo.client.proto.wgtwo.lookup.v0 import lookup_pb2
from custom_components.wgtwo.client.proto.wgtwo.mms.v0 import mms_pb2
from custom_components.wgtwo.client.proto.wgtwo.sms.v1 import sms_pb2
from custom_components.wgtwo.client.proto.wgtwo.subscription.v0 import (
    network_info_pb2,
    subscription_id_pb2,
)
from custom_components.wgtwo.client.proto.wgtwo.subscription.v1 import subscription_events_pb2
from tools import gen_protos

ROOT = Path(__file__).resolve().parents[2]


def _files(folder: Path) -> dict[str, str]:
    return {
        path.relative_to(folder).as_posix(): path.read_text()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def test_committed_code_matches_generator(tmp_path: Path) -> None:
    # The generator's own environment (.venv-gen), as scripts/gen-protos runs it.
    subprocess.run(
        [str(ROOT / "scripts" / "gen-protos"), "--output", str(tmp_path / "proto")],
        check=True,
        capture_output=True,
    )
    assert _files(tmp_path / "proto") == _files(gen_protos.OUTPUT)


def test_generated_imports_are_package_relative() -> None:
    for name, text in _files(gen_protos.OUTPUT).items():
        assert not re.search(r"^(from|import) wgtwo\b", text, re.MULTILINE), name


def test_gencode_is_not_newer_than_the_pinned_runtime() -> None:
    """protobuf and grpcio refuse generated code newer than themselves.

    protobuf also refuses code more than one major version older: the code is written for
    the oldest release's protobuf (scripts/test --ha checks it there) and loads on the next.
    """
    constraints = Path(ha_const.__file__).with_name("package_constraints.txt").read_text()
    pins = dict(re.findall(r"^(grpcio|protobuf)==([\d.]+)$", constraints, re.MULTILINE))
    events = (gen_protos.OUTPUT / "wgtwo/events/v0/events_pb2.py").read_text()
    grpc_stub = (gen_protos.OUTPUT / "wgtwo/events/v0/events_pb2_grpc.py").read_text()
    gen_pb = re.search(r"Protobuf Python Version: ([\d.]+)", events)
    gen_grpc = re.search(r"GRPC_GENERATED_VERSION = '([\d.]+)'", grpc_stub)
    assert gen_pb
    assert gen_grpc
    runtime_pb = _version(pins["protobuf"])
    assert runtime_pb[0] - _version(gen_pb.group(1))[0] in (0, 1)
    assert _version(gen_pb.group(1)) <= runtime_pb
    assert _version(gen_grpc.group(1)) <= _version(pins["grpcio"])
    # The test environment runs exactly Home Assistant's pins.
    assert metadata.version("protobuf") == pins["protobuf"]
    assert metadata.version("grpcio") == pins["grpcio"]


def test_ci_runs_the_suite_on_the_declared_minimum_home_assistant() -> None:
    """The oldest release hacs.json admits is the one CI runs the suite on as well."""
    minimum = json.loads((ROOT / "hacs.json").read_text())["homeassistant"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert f"scripts/test --ha {minimum}\n" in ci
    workflow = (ROOT / ".github" / "workflows" / "tests.yaml").read_text()
    assert re.search(rf"^\s+- \"{re.escape(minimum)}\"$", workflow, re.MULTILINE), workflow


def test_wire_bytes_of_the_sheet_example() -> None:
    """Field numbers from the sheet give these exact bytes."""
    event = events_pb2.Event()
    event.voice_event.call_id = "c"
    event.voice_event.type = events_pb2.VoiceEvent.CALL_RINGING
    event.voice_event.caller_id_hidden = True
    event.owner.phone_number.e164 = "+1"
    event.metadata.sequence = 7
    wire = event.SerializeToString()
    fields = [
        "0a020807",  # metadata(1) { sequence(1) = 7 }
        "22070a016310023001",  # voice_event(4) { call_id(1), type(2), hidden(6) }
        "62060a040a022b31",  # owner(12) { phone_number(1) { e164(1) = "+1" } }
    ]
    assert wire == bytes.fromhex("".join(fields))


def test_wire_bytes_of_call_forwarding_and_lookup() -> None:
    """The call forwarding and number lookup messages use the sheet's field numbers."""
    forward = callforward_pb2.NumberCallForwardingRequest()
    forward.subscriber.e164 = "+1"
    forward.conditional.no_reply.e164 = "+2"
    assert forward.SerializeToString() == bytes.fromhex(
        "0a040a022b31"  # subscriber(1) { e164(1) = "+1" }
        "1a06"
        "12040a022b32"  # conditional(3) { no_reply(2) { e164(1) = "+2" } }
    )
    voicemail = callforward_pb2.VoicemailCallForwardingRequest()
    voicemail.default.SetInParent()
    assert voicemail.SerializeToString() == bytes.fromhex("1200")  # default(2) = {}
    reply = callforward_pb2.CallForwardingResponse(
        status=callforward_pb2.CallForwardingResponse.REJECTED, error_message="x"
    )
    assert reply.SerializeToString() == bytes.fromhex("0802120178")  # status(1), error(2)

    request = lookup_pb2.NumberLookupRequest(id="r")
    request.number.e164 = "+1"
    request.recipient.e164 = "+2"
    # id(1), number(2) { e164 }, recipient(3) { e164 }
    assert request.SerializeToString() == bytes.fromhex("0a017212040a022b311a040a022b32")
    answer = lookup_pb2.NumberLookupResponse()
    answer.number_lookup_request.id = "r"
    answer.result.name = "A"
    answer.cache_control.max_age.seconds = 900
    assert answer.SerializeToString() == bytes.fromhex(
        "0a030a0172"  # number_lookup_request(1) { id(1) = "r" }
        "12030a0141"  # result(2) { name(1) = "A" }
        "2205"
        "0a03088407"  # cache_control(4) { max_age(1) { seconds(1) = 900 } }
    )
    error = lookup_pb2.NumberLookupResponse()
    error.error.message = "m"
    assert error.SerializeToString() == bytes.fromhex("1a030a016d")  # error(3) { message(1) }


def test_wire_bytes_of_the_newer_services() -> None:
    """Consents, subscription ids, network info and the v1 streams use the sheet's numbers."""
    listing = consents_pb2.ListConsentsForProductResponse()
    consent = listing.consents.add(product_id="p")
    consent.owner.subscription.subscription_identifier.value = "s"
    consent.owner.subscription.subscription_identifier.tenant.name = "t"
    consent.scopes.add(property="a")
    listing.pagination.next_page_token = "n"
    assert listing.SerializeToString() == bytes.fromhex(
        "0a16"  # consents(1)
        "0a0c"  # owner(1)
        "0a0a"  # subscription(1)
        "0a08"  # subscription_identifier(1)
        "0a0173"  # value(1) = "s"
        "12030a0174"  # tenant(2) { name(1) = "t" }
        "120170"  # product_id(2) = "p"
        "1a030a0161"  # scopes(3) { property(1) = "a" }
        "120312016e"  # pagination(2) { next_page_token(2) = "n" }
    )
    tenant = consents_pb2.ConsentOwner()
    tenant.tenant.name = "t"
    assert tenant.SerializeToString() == bytes.fromhex("12030a0174")  # tenant(2) { name(1) }
    request = consents_pb2.ListConsentsForProductRequest()
    request.pagination.page_size = 5
    request.pagination.page_token = "x"
    assert request.SerializeToString() == bytes.fromhex("0a0510051a0178")  # page_size(2), token(3)

    msisdn = subscription_id_pb2.GetMsisdnResponse(
        status_code=status_pb2.STATUS_CODE_ACCESS_DENIED, error_message="e"
    )
    msisdn.phone_number.e164 = "+1"
    assert msisdn.SerializeToString() == bytes.fromhex("0a040a022b3110031a0165")

    info = network_info_pb2.NetworkInfo(network_generation=identifiers_pb2.NETWORK_GENERATION_4G)
    info.network_identity.mcc = "1"
    info.mme.value = "m"
    # network_identity(4) { mcc(1) }, network_generation(5) = 3, mme(10) { value(1) }
    assert info.SerializeToString() == bytes.fromhex("22030a0131280352030a016d")

    config = stream_pb2.StreamConfiguration(max_in_flight=50)
    config.durable_queue.custom_name = "q"
    config.custom_ack_timeout.seconds = 30
    config.start_at_new.SetInParent()
    # durable_queue(2) { custom_name(1) }, custom_ack_timeout(4) { seconds }, max(5), new(6)
    assert config.SerializeToString() == bytes.fromhex("12030a01712202081e28323200")

    consent_event = consent_events_pb2.StreamConsentChangeEventsResponse()
    consent_event.metadata.ack_info.value = "k"
    consent_event.metadata.is_redelivered = True
    consent_event.metadata.identifier.subscription_identifier.wg2rn = "w"
    consent_event.consent_change_event.updated.scopes.append("a")
    consent_event.consent_change_event.number.e164 = "+1"
    assert consent_event.SerializeToString() == bytes.fromhex(
        "0a0e"  # metadata(1)
        "12050a03120177"  # identifier(2) { subscription_identifier(1) { wg2rn(2) = "w" } }
        "1a030a016b"  # ack_info(3) { value(1) = "k" }
        "2001"  # is_redelivered(4)
        "120b"  # consent_change_event(2)
        "12030a0161"  # updated(2) { scopes(1) = "a" }
        "22040a022b31"  # number(4) { e164(1) }
    )
    first = subscription_events_pb2.FirstAttachmentEvent()
    first.number.e164 = "+1"
    first.imsi.value = "9"
    assert first.SerializeToString() == bytes.fromhex("0a040a022b3112030a0139")
    change = subscription_events_pb2.CountryChangeEvent()
    change.current.code = "SE"
    change.current.name = "S"
    assert change.SerializeToString() == bytes.fromhex("12070a025345120153")
    periodic = subscription_events_pb2.PeriodicCountryEvent()
    periodic.country.code = "N"
    assert periodic.SerializeToString() == bytes.fromhex("1a030a014e")
    handset = subscription_events_pb2.HandsetChangeEvent()
    handset.current.imei_sv.software_version = "2"
    assert handset.SerializeToString() == bytes.fromhex("12050a03120132")
    ack = subscription_events_pb2.AckCountryChangeEventResponse()
    ack.ack_status.status_code = stream_pb2.AckStatus.STATUS_CODE_SUCCESS
    assert ack.SerializeToString() == bytes.fromhex("0a020802")


def test_wire_bytes_of_mms_and_a_text_to_a_subscriber() -> None:
    """The MMS messages and SendTextToSubscriber use the sheet's field numbers."""
    to_subscriber = mms_pb2.SendMessageToSubscriberRequest()
    to_subscriber.message_content.add().text.text = "t"
    to_subscriber.message_content.add().image.jpg = b"J"
    to_subscriber.message_content.add().audio.wav = b"W"
    to_subscriber.from_text_address.text_address = "H"
    to_subscriber.to_subscriber.e164 = "+1"
    assert to_subscriber.SerializeToString() == bytes.fromhex(
        "0a05"
        "12030a0174"  # message_content(1) { text(2) { text(1) = "t" } }
        "0a05"
        "1a03"
        "12014a"  # message_content(1) { image(3) { jpg(2) = "J" } }
        "0a05"
        "0a03"
        "220157"  # message_content(1) { audio(1) { wav(4) = "W" } }
        "1a030a0148"  # from_text_address(3) { text_address(1) = "H" }
        "2a040a022b31"  # to_subscriber(5) { e164(1) = "+1" }
    )
    from_subscriber = mms_pb2.SendMessageFromSubscriberRequest()
    from_subscriber.message_content.add().image.png = b"P"
    from_subscriber.message_content.add().audio.amr = b"A"
    from_subscriber.from_subscriber.e164 = "+1"
    from_subscriber.to_e164.e164 = "+2"
    assert from_subscriber.SerializeToString() == bytes.fromhex(
        "0a05"
        "1a03"
        "0a0150"  # message_content(1) { image(3) { png(1) = "P" } }
        "0a05"
        "0a03"
        "1a0141"  # message_content(1) { audio(1) { amr(3) = "A" } }
        "12040a022b31"  # from_subscriber(2) { e164 }
        "1a040a022b32"  # to_e164(3) { e164 }
    )
    reply = mms_pb2.SendResponse(
        request_id="r", status=mms_pb2.SendResponse.SEND_REJECT, description="d"
    )
    # request_id(1), status(2) = SEND_REJECT (2), description(3)
    assert reply.SerializeToString() == bytes.fromhex("0a017210021a0164")

    text = sms_pb2.SendTextToSubscriberRequest(content="c", to_subscriber="+1", from_address="H")
    text.delivery_deadline.seconds = 60
    # content(1), to_subscriber(2), from_address(3), delivery_deadline(4) { seconds(1) = 60 }
    assert text.SerializeToString() == bytes.fromhex("0a016312022b311a01482202083c")
