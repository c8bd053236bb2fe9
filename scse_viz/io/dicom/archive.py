"""The archive limits of a DICOM upload: a ZIP of a series unpacked in memory, and a deflated file inflated with a
bound, both refused before anything large is inflated (a zip or deflate bomb costs nothing)."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

from scse_viz.errors import ImageTooLargeError, UnreadableFileError, UnsupportedFormatError
from scse_viz.io.sniff import _DECODE_ERRORS, _DICOM_MAGIC_OFFSET, _is_dicom

_DEFLATED = "1.2.840.10008.1.2.1.99"


def _dicom_members(data: bytes, name: str, *, max_members: int, max_bytes: int) -> list[bytes]:
    """The bytes of every DICOM member of a ZIP, in archive order; unpacked in memory (nothing is written to disk,
    so member paths such as "../x" mean nothing), within the caps, which are checked from the central directory
    before anything is inflated."""
    broken = UnreadableFileError(
        f'"{name}" looks like a ZIP archive but cannot be unpacked: it is probably truncated or corrupt. Zip the '
        "files again and upload the new archive."
    )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, *_DECODE_ERRORS) as error:
        raise broken from error
    with archive:
        entries = [info for info in archive.infolist() if not info.is_dir()]
        if len(entries) > max_members:
            raise ImageTooLargeError(
                f'"{name}" holds {len(entries):,} files; the app reads at most {max_members:,} from one ZIP. '
                "Zip a single series and upload that."
            )
        # zipfile never inflates a member past the size its directory entry states, so this sum is a real bound.
        total = sum(info.file_size for info in entries)
        if total > max_bytes:
            raise ImageTooLargeError(
                f'"{name}" unpacks to {total / 2**30:.1f} GiB; the app accepts at most '
                f"{max_bytes / 2**30:g} GiB. Zip a single series and upload that."
            )
        if any(info.flag_bits & 0x1 for info in entries):
            raise UnsupportedFormatError(
                f'"{name}" is a password-protected ZIP archive, which the app cannot open. Zip the files again '
                "without a password and upload that."
            )
        members: list[bytes] = []
        inflated = 0
        for info in entries:
            try:
                with archive.open(info) as stream:
                    head = stream.read(_DICOM_MAGIC_OFFSET + 4)
                    if not _is_dicom(head):
                        continue  # a README, a bundled viewer, macOS "._" forks: not DICOM
                    member = head + stream.read(max(0, info.file_size - len(head)))
            except (zipfile.BadZipFile, NotImplementedError, *_DECODE_ERRORS) as error:
                raise broken from error
            inflated += _check_inflated_size(member, name, max_bytes - total - inflated, cap=max_bytes)
            members.append(member)
    return members


def _check_inflated_size(data: bytes, name: str, limit: int, *, cap: int) -> int:
    """Bytes a Deflated Explicit VR Little Endian file inflates to (0 for any other transfer syntax).

    pydicom inflates such a file whole, unbounded, before parsing it; inflating it here first with a bound means a
    deflate bomb is refused after ``limit`` bytes instead of filling the memory. ``cap`` is the upload's whole
    allowance, which the message quotes.
    """
    meta_end = _meta_end(data)
    if _DEFLATED.encode("ascii") not in data[_DICOM_MAGIC_OFFSET:meta_end]:
        return 0
    try:
        inflated = zlib.decompressobj(-zlib.MAX_WBITS).decompress(data[meta_end:], limit + 1)
    except zlib.error as error:
        raise UnreadableFileError(
            f'"{name}" is a deflate-compressed DICOM file that cannot be decompressed: it is probably truncated or '
            "corrupt. Export it again and upload the new file."
        ) from error
    if len(inflated) > limit:
        raise ImageTooLargeError(
            f'"{name}" unpacks to more than the {cap / 2**30:g} GiB the app accepts. Upload fewer or smaller images.'
        )
    return len(inflated)


def _meta_end(data: bytes) -> int:
    """Offset of the first byte after the file meta group, from its group length (first element, explicit VR)."""
    start = _DICOM_MAGIC_OFFSET + 4
    head = data[start : start + 12]
    if len(head) == 12 and head[:4] == b"\x02\x00\x00\x00" and head[4:6] == b"UL":
        return start + 12 + struct.unpack("<I", head[8:12])[0]
    return min(len(data), start + 4096)  # no group length: the meta group is short, search a generous head
