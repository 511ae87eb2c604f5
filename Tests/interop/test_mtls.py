"""RFC 8705 certificate-bound access tokens with TLS terminating at the services: `neosec-token`
and `neosec-resource` run as separate executables with their own data directories, serving
https with a test CA and asking for client certificates. Certificates are made with the
`cryptography` package; the client is `requests`."""
import base64
import datetime
import hashlib
import ipaddress
import json
import os
import subprocess
import tempfile
import time

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import binary, free_port


def name(common):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def issue(subject, issuer_name, issuer_key, key, *, ca=False, server=False):
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder().subject_name(name(subject)).issuer_name(issuer_name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def write(directory, stem, cert, key):
    cert_path, key_path = os.path.join(directory, stem + ".pem"), os.path.join(directory, stem + ".key")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_path, key_path


def thumbprint(cert):
    return base64.urlsafe_b64encode(hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).digest()).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def pki():
    directory = tempfile.mkdtemp(prefix="neosec-mtls-")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = issue("NeoSec test CA", name("NeoSec test CA"), ca_key, ca_key, ca=True)
    ca_path, _ = write(directory, "ca", ca, ca_key)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = write(directory, "server", issue("127.0.0.1", ca.subject, ca_key, server_key, server=True), server_key)
    clients = {}
    for stem in ["client", "other"]:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = issue(stem, ca.subject, ca_key, key)
        clients[stem] = (write(directory, stem, cert, key), thumbprint(cert))
    rogue_key = ec.generate_private_key(ec.SECP256R1())
    rogue = issue("rogue", name("rogue"), rogue_key, rogue_key)
    clients["rogue"] = (write(directory, "rogue", rogue, rogue_key), thumbprint(rogue))
    return {"dir": directory, "ca": ca_path, "server": server, "clients": clients}


@pytest.fixture(scope="module")
def services(pki):
    ports = {"token": free_port(), "resource": free_port()}
    urls = {k: f"https://127.0.0.1:{p}" for k, p in ports.items()}
    admin = "mtls-admin-token-" + os.urandom(16).hex()
    base = {k: v for k, v in os.environ.items() if not k.startswith("NEOSEC_")}
    base.update({
        "NEOSEC_TOKEN_PORT": str(ports["token"]), "NEOSEC_RESOURCE_PORT": str(ports["resource"]),
        "NEOSEC_TOKEN_URL": urls["token"], "NEOSEC_RESOURCE_URL": urls["resource"], "NEOSEC_ISSUER": urls["token"],
        "NEOSEC_TLS_TRUST": pki["ca"], "NEOSEC_ADMIN_TOKEN": admin, "NEOSEC_LOG_LEVEL": "warning",
    })
    processes, logs = [], []
    for service in ["token", "resource"]:
        env = dict(base)
        upper = service.upper()
        env.update({
            f"NEOSEC_{upper}_TLS_CERT": pki["server"][0], f"NEOSEC_{upper}_TLS_KEY": pki["server"][1],
            f"NEOSEC_{upper}_TLS_CLIENT_CA": pki["ca"], "NEOSEC_DATA_DIR": os.path.join(pki["dir"], service),
        })
        log = open(os.path.join(pki["dir"], service + ".log"), "w")
        processes.append(subprocess.Popen([binary("neosec-" + service)], env=env, stdout=log, stderr=subprocess.STDOUT))
        logs.append(log)
    try:
        deadline = time.time() + 30
        for url in urls.values():
            while True:
                try:
                    if requests.get(url + "/health/ready", verify=pki["ca"], timeout=1).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                assert time.time() < deadline, "services did not become ready"
                time.sleep(0.2)
        yield {"urls": urls, "admin": admin}
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=20)
        for log in logs:
            log.close()


def register(services, ca, **metadata):
    body = {
        "grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_basic", "scope": "documents:read",
        "allowed_audiences": [services["urls"]["resource"]],
    }
    body.update(metadata)
    response = requests.post(services["urls"]["token"] + "/admin/clients", json=body, headers={"Authorization": "Bearer " + services["admin"]}, verify=ca, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()["client_id"], response.json()["client_secret"]


def token(services, pki, client, cert=None):
    return requests.post(
        services["urls"]["token"] + "/oauth2/token", data={"grant_type": "client_credentials"}, auth=client,
        cert=cert, verify=pki["ca"], timeout=10,
    )


def whoami(services, pki, access_token, cert=None):
    return requests.get(services["urls"]["resource"] + "/api/whoami", headers={"Authorization": "Bearer " + access_token}, cert=cert, verify=pki["ca"], timeout=10)


def test_discovery_advertises_certificate_bound_tokens(services, pki):
    metadata = requests.get(services["urls"]["token"] + "/.well-known/oauth-authorization-server", verify=pki["ca"], timeout=5).json()
    assert metadata["tls_client_certificate_bound_access_tokens"] is True
    assert metadata["issuer"].startswith("https://")


def test_certificate_bound_token_end_to_end(services, pki):
    client = register(services, pki["ca"], tls_client_certificate_bound_access_tokens=True)
    (cert, _), expected = pki["clients"]["client"]
    (other, _), _ = pki["clients"]["other"]
    cert_pair = pki["clients"]["client"][0]
    response = token(services, pki, client, cert=cert_pair)
    assert response.status_code == 200, response.text
    access_token = response.json()["access_token"]
    claims = json.loads(base64.urlsafe_b64decode(access_token.split(".")[1] + "=="))
    assert claims["cnf"] == {"x5t#S256": expected}

    assert whoami(services, pki, access_token, cert=cert_pair).status_code == 200
    for presented in [None, pki["clients"]["other"][0]]:
        refused = whoami(services, pki, access_token, cert=presented)
        assert refused.status_code == 401
        assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]


def test_client_registered_for_binding_must_present_a_certificate(services, pki):
    client = register(services, pki["ca"], tls_client_certificate_bound_access_tokens=True)
    response = token(services, pki, client)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_unbound_client_gets_an_unbound_token_even_with_a_certificate(services, pki):
    client = register(services, pki["ca"])
    response = token(services, pki, client, cert=pki["clients"]["client"][0])
    assert response.status_code == 200
    access_token = response.json()["access_token"]
    assert "cnf" not in json.loads(base64.urlsafe_b64decode(access_token.split(".")[1] + "=="))
    assert whoami(services, pki, access_token).status_code == 200


def test_certificate_from_another_ca_fails_the_handshake(services, pki):
    client = register(services, pki["ca"], tls_client_certificate_bound_access_tokens=True)
    with pytest.raises(requests.exceptions.SSLError):
        token(services, pki, client, cert=pki["clients"]["rogue"][0])
