"""wgtwo.send_mms against the sandbox: a camera's snapshot, files and media, fitting, errors."""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any
from unittest.mock import patch

import grpc
import pytest
from homeassistant.components.camera import Camera
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers.entity_platform import AddEntitiesCallback
from homeassistant.setup import async_setup_component
from PIL import Image
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    MockPlatform,
    MockUser,
    mock_platform,
)

from custom_components.wgtwo import mms_media
from custom_components.wgtwo.client.proto.wgtwo.mms.v0 import mms_pb2
from custom_components.wgtwo.const import CONF_PHONEBOOK, CONF_SENDER_NAME, CONF_SMS_BUDGET, DOMAIN
from tests.sandbox_fixtures import MakeSandbox
from wgtwo_sandbox import SandboxServer
from wgtwo_sandbox.scopes import ALL_SCOPES, MMS_FROM_SUBSCRIBER, MMS_TO_SUBSCRIBER

from .conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    async_setup_entry_and_connect,
    async_unload_and_wait,
    entry_options,
    make_entry,
)
from .test_sms import add_subscribers
from .wgtwo_events import ALICE, BOB, CAROL, device_id_of

MAX = 300_000

entry_options_override = pytest.fixture(
    lambda: {CONF_PHONEBOOK: {BOB: "Bob"}, CONF_SENDER_NAME: "Home"},
    name="entry_options_override",
)


def jpeg(size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format="JPEG")
    return out.getvalue()


def noise(size: tuple[int, int], image_format: str) -> bytes:
    """A picture that compresses badly: random pixels."""
    rng = random.Random(7)
    image = Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))
    out = io.BytesIO()
    image.save(out, format=image_format)
    return out.getvalue()


class DoorCamera(Camera):
    """A camera that gives what it is told to."""

    def __init__(self, name: str, image: bytes | None, *, on: bool = True) -> None:
        super().__init__()
        self._attr_name = name
        self._attr_unique_id = name
        self._attr_is_on = on
        self.image = image
        self.snapshots = 0

    async def async_camera_image(
        self, width: int | None = None, height: int | None = None
    ) -> bytes | None:
        self.snapshots += 1
        return self.image


@pytest.fixture
async def cameras(hass: HomeAssistant) -> dict[str, DoorCamera]:
    """camera.front_door (a JPEG), camera.garden (off) and camera.attic (no picture)."""
    made = {
        "camera.front_door": DoorCamera("Front door", jpeg()),
        "camera.garden": DoorCamera("Garden", jpeg(), on=False),
        "camera.attic": DoorCamera("Attic", None),
    }

    async def setup_platform(
        hass: HomeAssistant, config: Any, add: AddEntitiesCallback, info: Any = None
    ) -> None:
        add(list(made.values()))

    mock_platform(hass, "test.camera", MockPlatform(async_setup_platform=setup_platform))
    assert await async_setup_component(hass, "camera", {"camera": {"platform": "test"}})
    await hass.async_block_till_done()
    return made


@pytest.fixture
def allowed(hass: HomeAssistant, tmp_path: Path) -> Path:
    """A folder Home Assistant may read, and a media folder (local media source)."""
    folder = tmp_path / "allowed"
    folder.mkdir()
    hass.config.allowlist_external_dirs = {str(folder)}
    hass.config.media_dirs = {"local": str(folder)}
    return folder


@pytest.fixture
async def alice(
    hass: HomeAssistant, auth_sandbox: SandboxServer, setup_integration: MockConfigEntry
) -> dict[str, Any]:
    await add_subscribers(hass, auth_sandbox, setup_integration, ALICE)
    return {"device_id": device_id_of(hass, setup_integration, ALICE)}


async def send_mms(
    hass: HomeAssistant, target: dict[str, Any], *, context: Context | None = None, **data: Any
) -> Any:
    return await hass.services.async_call(
        DOMAIN,
        "send_mms",
        {**target, **data},
        blocking=True,
        return_response=True,
        context=context,
    )


def parts(server: SandboxServer) -> list[tuple[str, str, int]]:
    """The last message's parts as the sandbox recorded them."""
    return [
        (p["kind"], p["format"], p["bytes"]) for p in server.stats["mms"]["messages"][-1]["parts"]
    ]


async def test_the_doorbell_picture_goes_from_the_subscriber_to_a_phonebook_name(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    alice: dict[str, Any],
    cameras: dict[str, DoorCamera],
) -> None:
    response = await send_mms(
        hass, alice, to="Bob", message="Someone is at the door", image="camera.front_door"
    )

    assert response == {"request_id": response["request_id"], "status": "ok"}
    assert response["request_id"]
    [sent] = auth_sandbox.mms.sent
    assert isinstance(sent, mms_pb2.SendMessageFromSubscriberRequest)
    assert (sent.from_subscriber.e164, sent.to_e164.e164) == (ALICE, BOB)
    assert sent.message_content[0].text.text == "Someone is at the door"
    # A JPEG that fits goes as the camera took it, taken at the moment of sending.
    assert sent.message_content[1].image.jpg == cameras["camera.front_door"].image
    assert cameras["camera.front_door"].snapshots == 1
    assert auth_sandbox.stats["mms"]["messages"][0]["rpc"] == "from_subscriber"


async def test_to_the_subscriber_from_the_sender_name_with_a_sound(
    hass: HomeAssistant, auth_sandbox: SandboxServer, alice: dict[str, Any], allowed: Path
) -> None:
    (allowed / "chime.wav").write_bytes(b"RIFF" + b"w" * 2000)

    response = await send_mms(hass, alice, sender="home", audio=str(allowed / "chime.wav"))

    assert response["status"] == "ok"
    [sent] = auth_sandbox.mms.sent
    assert isinstance(sent, mms_pb2.SendMessageToSubscriberRequest)
    # The entry's spelling of its sender name, to the targeted subscriber.
    assert sent.from_text_address.text_address == "Home"
    assert sent.to_subscriber.e164 == ALICE
    assert parts(auth_sandbox) == [("audio", "wav", 2004)]


async def test_a_large_picture_is_scaled_down_to_fit_with_the_sound(
    hass: HomeAssistant, auth_sandbox: SandboxServer, allowed: Path, alice: dict[str, Any]
) -> None:
    big = noise((900, 700), "PNG")
    assert len(big) > MAX
    (allowed / "porch.png").write_bytes(big)
    (allowed / "ring.mp3").write_bytes(b"ID3" + b"m" * 50_000)

    await send_mms(
        hass,
        alice,
        to=BOB,
        message="Door",
        image=str(allowed / "porch.png"),
        audio="media-source://media_source/local/ring.mp3",
    )

    [(text_kind, _, _), (kind, image_format, size), sound] = parts(auth_sandbox)
    assert (text_kind, kind, image_format) == ("text", "image", "jpg")
    assert sound == ("audio", "mp3", 50_003)
    total = auth_sandbox.stats["mms"]["messages"][0]["bytes"]
    assert total <= MAX
    [sent] = auth_sandbox.mms.sent
    picture = Image.open(io.BytesIO(sent.message_content[1].image.jpg))
    assert picture.format == "JPEG"
    assert picture.width < 900  # scaled down, its shape kept
    assert abs(picture.width / picture.height - 900 / 700) < 0.02
    assert size == len(sent.message_content[1].image.jpg)


async def test_another_picture_type_is_sent_as_jpeg(
    hass: HomeAssistant, auth_sandbox: SandboxServer, alice: dict[str, Any], allowed: Path
) -> None:
    out = io.BytesIO()
    Image.new("RGBA", (40, 30), (0, 0, 255, 128)).save(out, format="GIF")
    (allowed / "door.gif").write_bytes(out.getvalue())

    await send_mms(hass, alice, to=BOB, image=str(allowed / "door.gif"))

    [(kind, image_format, _)] = parts(auth_sandbox)
    assert (kind, image_format) == ("image", "jpg")


async def test_a_text_to_speech_message_goes_as_its_sound(
    hass: HomeAssistant, auth_sandbox: SandboxServer, alice: dict[str, Any]
) -> None:
    announcement = "media-source://tts/tts.demo?message=Door"
    # The text-to-speech engine's answer (its component is not loaded here).
    with patch.object(
        mms_media, "async_tts_audio", return_value=("mp3", b"ID3" + b"t" * 100)
    ) as spoken:
        await send_mms(hass, alice, sender="Home", audio=announcement)

    spoken.assert_awaited_once_with(hass, announcement)
    assert parts(auth_sandbox) == [("audio", "mp3", 103)]


IN = "{allowed}"  # the allowed folder


@pytest.mark.parametrize(
    ("data", "key", "placeholders"),
    [
        ({"to": BOB}, "mms_nothing_to_send", {}),
        ({"to": BOB, "message": "  "}, "mms_nothing_to_send", {}),
        ({"message": "hi"}, "to_or_sender", None),
        ({"to": BOB, "sender": "Home", "message": "hi"}, "to_or_sender", None),
        (
            {"sender": "Bank", "message": "hi"},
            "sender_not_the_entrys",
            {"sender": "Bank", "name": "Home"},
        ),
        ({"sender": "+0123", "message": "hi"}, "sender_invalid_number", None),
        ({"sender": " ", "message": "hi"}, "sender_empty", None),
        ({"to": "Dave", "message": "hi"}, "sms_unknown_name", {"name": "Dave"}),
        (
            {"to": BOB, "image": "camera.porch"},
            "mms_unknown_camera",
            {"entity_id": "camera.porch"},
        ),
        (
            {"to": BOB, "image": "/etc/hostname"},
            "mms_path_not_allowed",
            {"field": "image", "path": "/etc/hostname"},
        ),
        (
            {"to": BOB, "image": "door.png"},
            "mms_path_not_allowed",
            {"field": "image", "path": "door.png"},
        ),
        (
            {"to": BOB, "audio": f"{IN}/notes.txt"},
            "mms_unsupported_type",
            {"field": "audio", "type": "txt"},
        ),
        (
            {"to": BOB, "image": f"{IN}/chime.wav"},
            "mms_unsupported_type",
            {"field": "image", "type": "wav"},
        ),
        (
            {"to": BOB, "image": f"{IN}/fake.png"},
            "mms_unsupported_type",
            {"field": "image", "type": "png"},
        ),
        (
            {"to": BOB, "audio": f"{IN}/long.wav"},
            "mms_too_large",
            {"size": "301", "max_size": "300"},
        ),
        (
            {"to": BOB, "message": "x", "audio": f"{IN}/full.wav"},
            "mms_too_large",
            {"size": "301", "max_size": "300"},
        ),
    ],
)
async def test_what_cannot_be_sent_is_refused_unsent_and_uncounted(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    alice: dict[str, Any],
    cameras: dict[str, DoorCamera],
    allowed: Path,
    data: dict[str, str],
    key: str,
    placeholders: dict[str, str] | None,
) -> None:
    (allowed / "notes.txt").write_text("not a sound")
    (allowed / "chime.wav").write_bytes(b"RIFF")
    (allowed / "fake.png").write_bytes(b"not a picture")
    (allowed / "long.wav").write_bytes(b"w" * (MAX + 1))
    (allowed / "full.wav").write_bytes(b"w" * MAX)
    filled: dict[str, Any] = {name: value.replace(IN, str(allowed)) for name, value in data.items()}

    with pytest.raises(ServiceValidationError) as caught:
        await send_mms(hass, alice, **filled)

    assert caught.value.translation_domain == DOMAIN
    assert caught.value.translation_key == key
    assert (caught.value.translation_placeholders or None) == (placeholders or None)
    assert str(caught.value)  # translated
    assert auth_sandbox.mms.sent == []
    assert auth_sandbox.stats["mms"]["refused"] == 0


@pytest.mark.parametrize("camera", ["camera.garden", "camera.attic"])
async def test_a_camera_without_a_picture_is_named(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    alice: dict[str, Any],
    cameras: dict[str, DoorCamera],
    camera: str,
) -> None:
    with pytest.raises(HomeAssistantError) as caught:
        await send_mms(hass, alice, to=BOB, image=camera)

    assert caught.value.translation_key == "mms_camera_unavailable"
    assert caught.value.translation_placeholders == {"entity_id": camera}
    assert auth_sandbox.mms.sent == []


async def test_a_media_source_that_cannot_be_read_is_named(
    hass: HomeAssistant, auth_sandbox: SandboxServer, allowed: Path, alice: dict[str, Any]
) -> None:
    source = "media-source://media_source/local/gone.wav"

    with pytest.raises(HomeAssistantError) as caught:
        await send_mms(hass, alice, to=BOB, audio=source)

    assert caught.value.translation_key == "mms_unreadable"
    assert caught.value.translation_placeholders == {"field": "audio", "source": source}
    with pytest.raises(HomeAssistantError) as missing:
        await send_mms(hass, alice, to=BOB, audio=str(allowed / "gone.wav"))
    assert missing.value.translation_key == "mms_unreadable"
    assert auth_sandbox.mms.sent == []


async def test_the_operator_refusing_the_sender_shows_its_description(
    hass: HomeAssistant, auth_sandbox: SandboxServer, alice: dict[str, Any]
) -> None:
    auth_sandbox.senders.discard("Home")  # not (or no longer) approved

    with pytest.raises(HomeAssistantError) as caught:
        await send_mms(hass, alice, sender="Home", message="hi")

    assert caught.value.translation_key == "operator_rejected"
    assert caught.value.translation_placeholders == {
        "feature": "MMS",
        "scope": "-",
        "detail": "sender not approved for this product",
    }
    assert str(caught.value) == "MMS: the operator refused: sender not approved for this product"


async def test_the_operators_error_and_a_lost_answer_are_never_sent_again(
    hass: HomeAssistant, auth_sandbox: SandboxServer, alice: dict[str, Any]
) -> None:
    auth_sandbox.mms.refuse_with = (mms_pb2.SendResponse.SEND_ERROR, "try later")
    with pytest.raises(HomeAssistantError) as could_not:
        await send_mms(hass, alice, to=BOB, message="one")
    assert could_not.value.translation_key == "operator_could_not"
    auth_sandbox.mms.refuse_with = None
    auth_sandbox.mms.fail_after_send = grpc.StatusCode.UNAVAILABLE

    with pytest.raises(HomeAssistantError) as lost:
        await send_mms(hass, alice, to=BOB, message="two")

    assert lost.value.translation_key == "no_answer"
    assert lost.value.translation_placeholders is not None
    assert lost.value.translation_placeholders["feature"] == "MMS"
    assert [m.message_content[0].text.text for m in auth_sandbox.mms.sent] == ["two"]


@pytest.mark.parametrize(("granted", "data", "scope"), [
    (ALL_SCOPES - {MMS_FROM_SUBSCRIBER}, {"to": BOB}, MMS_FROM_SUBSCRIBER),
    (ALL_SCOPES - {MMS_TO_SUBSCRIBER}, {"sender": "Home"}, MMS_TO_SUBSCRIBER),
])  # fmt: skip
async def test_a_missing_scope_is_named(
    hass: HomeAssistant,
    make_sandbox: MakeSandbox,
    granted: frozenset[str],
    data: dict[str, Any],
    scope: str,
) -> None:
    server = await make_sandbox(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, granted_scopes=granted
    )
    entry = make_entry(server, options=entry_options(**{CONF_SENDER_NAME: "Home"}))
    entry.add_to_hass(hass)
    await async_setup_entry_and_connect(hass, entry)
    await add_subscribers(hass, server, entry, ALICE)

    with pytest.raises(HomeAssistantError) as caught:
        await send_mms(hass, {"device_id": device_id_of(hass, entry, ALICE)}, message="hi", **data)

    assert caught.value.translation_key == "missing_scope"
    assert (caught.value.translation_placeholders or {})["scope"] == scope
    assert server.mms.sent == []
    await async_unload_and_wait(hass, entry, server)


async def test_mms_spend_the_text_budget_and_need_an_owner(
    hass: HomeAssistant, make_sandbox: MakeSandbox, hass_read_only_user: MockUser
) -> None:
    server = await make_sandbox(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    entry = make_entry(server, options=entry_options(**{CONF_SMS_BUDGET: 2}))
    entry.add_to_hass(hass)
    await async_setup_entry_and_connect(hass, entry)
    await add_subscribers(hass, server, entry, ALICE, CAROL)
    alice = {"device_id": device_id_of(hass, entry, ALICE)}

    with pytest.raises(HomeAssistantError) as stranger:
        await send_mms(
            hass, alice, context=Context(user_id=hass_read_only_user.id), to=BOB, message="a"
        )
    assert stranger.value.translation_key == "not_owner"
    await hass.services.async_call(
        DOMAIN, "send_sms", {**alice, "to": BOB, "message": "a text"}, blocking=True
    )
    await send_mms(hass, alice, to=BOB, message="an MMS")
    with pytest.raises(HomeAssistantError) as spent:
        await send_mms(hass, alice, to=BOB, message="one too many")

    assert spent.value.translation_key == "sms_budget_reached"
    assert (spent.value.translation_placeholders or {})["feature"] == "MMS"
    assert [m.message_content[0].text.text for m in server.mms.sent] == ["an MMS"]
    await async_unload_and_wait(hass, entry, server)


async def test_a_picture_that_cannot_fit_beside_the_sound_is_refused(
    hass: HomeAssistant, auth_sandbox: SandboxServer, allowed: Path, alice: dict[str, Any]
) -> None:
    picture = noise((300, 200), "PNG")
    (allowed / "porch.png").write_bytes(picture)
    (allowed / "long.wav").write_bytes(b"w" * (MAX - 100))  # leaves 100 bytes

    with pytest.raises(ServiceValidationError) as caught:
        await send_mms(
            hass, alice, to=BOB, image=str(allowed / "porch.png"), audio=str(allowed / "long.wav")
        )

    assert caught.value.translation_key == "mms_too_large"
    size = -(-(MAX - 100 + len(picture)) // 1000)
    assert caught.value.translation_placeholders == {"size": str(size), "max_size": "300"}
    assert auth_sandbox.mms.sent == []
