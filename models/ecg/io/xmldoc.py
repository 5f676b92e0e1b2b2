"""Safe XML for the XML-based ECG formats (GE MUSE, HL7 aECG, Philips Sierra).

Every document is parsed by :mod:`defusedxml`, which refuses entity declarations (the
"billion laughs" expansion) and external entities or DTDs (file and network reads); the
document-type line ``<!DOCTYPE RestingECG SYSTEM "restecg.dtd">`` that MUSE writes is allowed,
and never fetched. Sniffing reads only the root element's name and namespace from the first
bytes, without building a tree.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError
from xml.parsers.expat import ExpatError

import defusedxml.ElementTree
from defusedxml import DefusedXmlException

from models.ecg.errors import MalformedEcg
from models.ecg.io.deid import IdentifyingField
from models.ecg.io.upload import UploadedFile

#: How much of a document is inspected when sniffing its root element.
SNIFF_BYTES = 64 * 1024

_PROLOG_ITEM = re.compile(
    r"\s*(?:<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^\[>]*(?:\[.*?\]\s*)?>)", re.DOTALL | re.IGNORECASE
)
_START_TAG = re.compile(
    r"\s*<(?P<name>[A-Za-z_][\w.\-]*:)?(?P<local>[A-Za-z_][\w.\-]*)(?P<attrs>[^>]*)>"
)
_DEFAULT_NAMESPACE = re.compile(r"""\bxmlns\s*=\s*["'](?P<uri>[^"']*)["']""")


@dataclass(frozen=True)
class RootElement:
    """The root element of a document: local name and default namespace (``""`` for none)."""

    local_name: str
    namespace: str


def _decode_head(data: bytes) -> str:
    """The first :data:`SNIFF_BYTES` of a document as text, by its byte-order mark or zeros."""
    head = data[:SNIFF_BYTES]
    if head.startswith((b"\xff\xfe", b"<\x00")):
        return head.decode("utf-16-le", errors="replace").lstrip("\ufeff")
    if head.startswith((b"\xfe\xff", b"\x00<")):
        return head.decode("utf-16-be", errors="replace").lstrip("\ufeff")
    return head.decode("utf-8", errors="replace").lstrip("\ufeff")


def root_element(data: bytes) -> RootElement | None:
    """The root element named by the start of ``data``, or ``None`` when it is not XML."""
    text = _decode_head(data)
    position = 0
    while match := _PROLOG_ITEM.match(text, position):
        position = match.end()
    start = _START_TAG.match(text, position)
    if start is None:
        return None
    namespace = _DEFAULT_NAMESPACE.search(start["attrs"])
    return RootElement(start["local"], namespace["uri"] if namespace else "")


def has_root(files: Sequence[UploadedFile], name: str, namespace: str | None = None) -> bool:
    """Whether a file's root element is ``name`` (in default ``namespace``, unless ``None``)."""
    for file in files:
        root = root_element(file.data)
        if root and root.local_name == name and namespace in (None, root.namespace):
            return True
    return False


@contextmanager
def _xml_errors(file_name: str) -> Iterator[None]:
    """Turn parser failures into :class:`MalformedEcg` naming the file."""
    try:
        yield
    except DefusedXmlException:
        raise MalformedEcg(
            f"{file_name} declares XML entities or external references, which are refused "
            "(they can expand to gigabytes or read other files)",
            field=file_name,
        ) from None
    except (ParseError, ExpatError) as error:
        raise MalformedEcg(
            f"{file_name} is not well-formed XML ({error})", field=file_name
        ) from None


def parse_tree(file: UploadedFile) -> Element:
    """The root :class:`Element` of ``file``, parsed with entity expansion and external
    references disabled."""
    with _xml_errors(file.name):
        return defusedxml.ElementTree.fromstring(file.data, forbid_dtd=False)


def local_name(tag: str) -> str:
    """An element tag without its ``{namespace}`` prefix."""
    return tag.rsplit("}", 1)[-1]


def _has_content(element: Element) -> bool:
    """Whether an element or any descendant carries text or a non-empty attribute."""
    return any(
        (node.text or "").strip() or any(value.strip() for value in node.attrib.values())
        for node in element.iter()
    )


def find_identifying(root: Element, rules: Mapping[str, IdentifyingField]) -> set[IdentifyingField]:
    """The identifying fields present (non-empty) in a document, by element-name rules.

    ``rules`` maps lower-case local names to a field kind; a key may be qualified by the parent
    (``"trialsubject/id"``) or name an attribute (``"dataacquisition@date"``). A qualified key
    wins over a bare one.
    """
    found: set[IdentifyingField] = set()
    for parent in root.iter():
        parent_name = local_name(parent.tag).lower()
        for child in parent:
            name = local_name(child.tag).lower()
            kind = rules.get(f"{parent_name}/{name}") or rules.get(name)
            if kind is not None and _has_content(child):
                found.add(kind)
            for attribute, value in child.attrib.items():
                kind = rules.get(f"{name}@{local_name(attribute).lower()}")
                if kind is not None and value.strip():
                    found.add(kind)
    return found


def child_text(element: Element | None, *path: str) -> str:
    """The stripped text at ``path`` below ``element`` (local names, any namespace), or ``""``."""
    node = element
    for name in path:
        if node is None:
            return ""
        node = next((child for child in node if local_name(child.tag) == name), None)
    return (node.text or "").strip() if node is not None else ""
