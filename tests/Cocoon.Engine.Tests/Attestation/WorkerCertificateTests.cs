using Cocoon.Engine.Attestation;

namespace Cocoon.Engine.Tests.Attestation;

public sealed class WorkerCertificateTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 30, 9, 0, 0, TimeSpan.Zero);
    private const string Model = "aa11bb22cc33dd44ee55ff6600112233445566778899aabbccddeeff00112233";

    [Fact]
    public void A_certificate_from_the_registered_key_for_this_worker_is_valid_and_survives_json()
    {
        using var provider = ProviderKey.Create();
        using var worker = WorkerIdentity.Create("w1");
        var certificate = WorkerCertificate.FromJson(provider.Certify("w1", worker.SigningPublicKey, Model.ToUpperInvariant(), Now.AddDays(30)).ToJson());
        Assert.Equal(CertificateVerdict.Valid, certificate.Check(provider.PublicKeyHex, [], "w1", worker.SigningPublicKey, Model, Now));
        Assert.Equal(provider.PublicKeyHex, certificate.ProviderKey);
    }

    [Fact]
    public void A_key_read_back_from_its_private_bytes_signs_as_the_same_provider()
    {
        using var provider = ProviderKey.Create();
        using var again = ProviderKey.Import(provider.ExportPrivateKey());
        using var worker = WorkerIdentity.Create("w1");
        Assert.Equal(provider.PublicKeyHex, again.PublicKeyHex);
        Assert.Equal(CertificateVerdict.Valid, again.Certify("w1", worker.SigningPublicKey, Model, Now.AddDays(1)).Check(provider.PublicKeyHex, [], "w1", worker.SigningPublicKey, Model, Now));
    }

    [Fact]
    public void Another_key_a_changed_field_or_a_bad_signature_is_forged()
    {
        using var provider = ProviderKey.Create();
        using var stranger = ProviderKey.Create();
        using var worker = WorkerIdentity.Create("w1");
        var genuine = provider.Certify("w1", worker.SigningPublicKey, Model, Now.AddDays(30));

        // Signed by someone else's key (valid signature, wrong signer).
        Assert.Equal(CertificateVerdict.Forged, stranger.Certify("w1", worker.SigningPublicKey, Model, Now.AddDays(30)).Check(provider.PublicKeyHex, [], "w1", worker.SigningPublicKey, Model, Now));

        // The registered key named, but the fields changed after signing.
        Assert.Equal(CertificateVerdict.Forged, (genuine with { ExpiresAt = genuine.ExpiresAt + 1 }).Check(provider.PublicKeyHex, [], "w1", worker.SigningPublicKey, Model, Now));
        Assert.Equal(CertificateVerdict.Forged, (genuine with { WorkerId = "w2" }).Check(provider.PublicKeyHex, [], "w2", worker.SigningPublicKey, Model, Now));
        Assert.Equal(CertificateVerdict.Forged, (genuine with { Signature = new string('0', 128) }).Check(provider.PublicKeyHex, [], "w1", worker.SigningPublicKey, Model, Now));
        Assert.Equal(CertificateVerdict.Forged, (genuine with { Signature = "zz" }).Check(provider.PublicKeyHex, [], "w1", worker.SigningPublicKey, Model, Now));
    }

    [Fact]
    public void A_genuine_certificate_for_another_worker_key_or_model_is_not_this_workers()
    {
        using var provider = ProviderKey.Create();
        using var worker = WorkerIdentity.Create("w1");
        using var other = WorkerIdentity.Create("w1");
        var certificate = provider.Certify("w1", worker.SigningPublicKey, Model, Now.AddDays(30));
        Assert.Equal(CertificateVerdict.OtherWorker, certificate.Check(provider.PublicKeyHex, [], "w1", other.SigningPublicKey, Model, Now));
        Assert.Equal(CertificateVerdict.OtherWorker, certificate.Check(provider.PublicKeyHex, [], "w2", worker.SigningPublicKey, Model, Now));
        Assert.Equal(CertificateVerdict.OtherWorker, certificate.Check(provider.PublicKeyHex, [], "w1", worker.SigningPublicKey, new string('b', 64), Now));
    }

    [Fact]
    public void An_expired_certificate_and_one_from_a_replaced_key_are_refused_by_name()
    {
        using var old = ProviderKey.Create();
        using var current = ProviderKey.Create();
        using var worker = WorkerIdentity.Create("w1");
        Assert.Equal(CertificateVerdict.Expired, current.Certify("w1", worker.SigningPublicKey, Model, Now).Check(current.PublicKeyHex, [], "w1", worker.SigningPublicKey, Model, Now));
        Assert.Equal(CertificateVerdict.RevokedKey, old.Certify("w1", worker.SigningPublicKey, Model, Now.AddDays(1)).Check(current.PublicKeyHex, [old.PublicKeyHex.ToUpperInvariant()], "w1", worker.SigningPublicKey, Model, Now));
    }
}
