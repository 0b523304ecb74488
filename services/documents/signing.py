"""A digital signature on every document PDF when the business has a DSC (Rule 46(q): "signature or
digital signature of the supplier"; "computer generated, no signature required" is valid only for
e-invoices).

The DSC is a PKCS#12 file and its password, in the configuration (`WALLET_DSC_FILE`,
`WALLET_DSC_PASSWORD`: secrets.toml or the environment, never the settings collection). pyHanko signs the
PDF as an incremental update (PAdES baseline), which any PDF reader verifies against the certificate's
chain. pyHanko is imported only here, only by a process that makes a PDF.
"""
from __future__ import annotations

import io
import threading
from pathlib import Path

from services import config
from services.errors import InvalidInput

_lock = threading.Lock()
_signers: dict = {}


def configured() -> bool:
    return bool(config.get().dsc_file)


def sign_if_configured(pdf: bytes) -> bytes:
    """The PDF, signed with the configured DSC (unchanged when none is configured)."""
    cfg = config.get()
    if not cfg.dsc_file:
        return pdf
    return sign(pdf, cfg.dsc_file, cfg.dsc_password)


def _signer(path: str, password: str):
    from pyhanko.sign import signers
    p = Path(path)
    try:
        stamp = (str(p), p.stat().st_mtime_ns, password)
    except OSError:
        raise InvalidInput(f"The DSC file {path} cannot be read.") from None
    with _lock:
        if stamp not in _signers:
            try:
                s = signers.SimpleSigner.load_pkcs12(pfx_file=str(p), passphrase=password.encode() or None)
            except (ValueError, TypeError, OSError):
                s = None
            if s is None:
                raise InvalidInput("The DSC could not be opened: check the PKCS#12 file and its password.")
            _signers.clear()
            _signers[stamp] = s
        return _signers[stamp]


def sign(pdf: bytes, path: str, password: str, *, reason: str = "Authorised signatory") -> bytes:
    """`pdf` signed with the PKCS#12 at `path`."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    signer = _signer(path, password)
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    meta = signers.PdfSignatureMetadata(field_name="AuthorisedSignatory", reason=reason)
    out = signers.sign_pdf(writer, meta, signer=signer)
    return out.getvalue()
