"""Client certificates the development PKI would never issue, made with `cryptography`."""

import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def issue_expired(pki: Path, name: str) -> tuple[str, str]:
    """A client certificate signed by the gateway's CA that expired yesterday."""
    ca_cert = x509.load_pem_x509_certificate((pki / "ca.pem").read_bytes())
    ca_key = serialization.load_pem_private_key((pki / "ca-key.pem").read_bytes(), password=None)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=30))
        .not_valid_after(now - datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(f"spiffe://test/{name}")]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = pki / f"{name}.pem", pki / f"{name}-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_path.chmod(0o600)
    return str(cert_path), str(key_path)


def _load_ca(pki: Path):
    ca_cert = x509.load_pem_x509_certificate((pki / "ca.pem").read_bytes())
    ca_key = serialization.load_pem_private_key((pki / "ca-key.pem").read_bytes(), password=None)
    return ca_cert, ca_key


def reissue_server(pki: Path) -> int:
    """Replaces the gateway's server certificate and key with new ones for the loopback names,
    written key first and each file atomically, as a certificate manager would. Returns the
    new certificate's serial number."""
    import ipaddress
    import os

    ca_cert, ca_key = _load_ca(pki)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    serial = x509.random_serial_number()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "secrets-gateway reissued")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([
                x509.DNSName("localhost"),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                x509.IPAddress(ipaddress.ip_address("::1")),
            ]),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    for name, data in [
        ("server-key.pem", key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())),
        ("server.pem", certificate.public_bytes(serialization.Encoding.PEM)),
    ]:
        temporary = pki / f".{name}.new"
        temporary.write_bytes(data)
        os.replace(temporary, pki / name)
    return serial


def write_crl(pki: Path, revoked: list[str], path: Path) -> None:
    """Writes a CRL signed by the CA that revokes the given client certificates (PEM paths)."""
    ca_cert, ca_key = _load_ca(pki)
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(now - datetime.timedelta(minutes=5))
        .next_update(now + datetime.timedelta(days=1))
        .add_extension(x509.CRLNumber(int(now.timestamp() * 1000)), critical=False)
    )
    serials = [x509.load_pem_x509_certificate(Path(p).read_bytes()).serial_number for p in revoked]
    # webpki refuses an empty revokedCertificates list (RFC 5280 says to omit it, cryptography
    # writes it): a CRL with nothing to revoke lists a serial no certificate here carries.
    for serial in serials or [1]:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now).build()
        )
    crl = builder.sign(ca_key, hashes.SHA256())
    temporary = path.with_name(path.name + ".new")
    temporary.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    import os

    os.replace(temporary, path)
