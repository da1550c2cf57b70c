using System.Security.Cryptography;
using System.Text;
using Cocoon.Engine.Attestation;

namespace Cocoon.Engine.Tests.Attestation;

/// <summary>A worker's statement over a client's nonce is accepted only as signed, for that nonce, worker, model and HPKE key.</summary>
public sealed class AttestationStatementTests : IDisposable
{
    private readonly WorkerIdentity _worker = WorkerIdentity.Create("worker-1");
    private readonly byte[] _nonce = RandomNumberGenerator.GetBytes(AttestationStatement.NonceSize);

    private AttestationDocument Document(WorkerIdentity? signer = null) => new()
    {
        WorkerId = "worker-1", ProviderId = "local", ModelName = "m", ModelSha256 = new string('a', 64), Measurement = new string('c', 64),
        HpkePublicKey = _worker.Sealing.PublicKey, SigningPublicKey = (signer ?? _worker).SigningPublicKey, Hardware = new HardwareInfo("cpu", null, 1, 1),
        Region = "eu", PriceCoefficient = 1000, MaxConcurrency = 1, IssuedAt = DateTimeOffset.UnixEpoch, ExpiresAt = DateTimeOffset.UnixEpoch.AddHours(1),
        TeeKind = TeeKinds.Simulated,
    };

    private AttestationStatement Statement() => new()
    {
        Nonce = _nonce, WorkerId = "worker-1", ModelSha256 = new string('a', 64), HpkePublicKey = _worker.Sealing.PublicKey, IssuedAt = DateTimeOffset.UtcNow,
    };

    private byte[] Json(AttestationStatement s, WorkerIdentity? signer = null) => Encoding.UTF8.GetBytes(s.Sign(signer ?? _worker).ToJson());

    [Fact]
    public void The_workers_own_statement_for_this_nonce_is_accepted() =>
        Assert.NotNull(SignedAttestationStatement.Accept(Json(Statement()), Document(), _nonce));

    public static TheoryData<string> Mismatches => ["nonce", "worker", "model", "hpke", "signer", "tampered", "garbage", "version"];

    [Theory]
    [MemberData(nameof(Mismatches))]
    public void Any_mismatch_refuses_it(string mismatch)
    {
        using var stranger = WorkerIdentity.Create("worker-1");
        var s = Statement();
        var json = mismatch switch
        {
            "worker" => Json(s with { WorkerId = "worker-2" }),
            "model" => Json(s with { ModelSha256 = new string('b', 64) }),
            "hpke" => Json(s with { HpkePublicKey = stranger.Sealing.PublicKey }),
            "signer" => Json(s, stranger),
            "tampered" => Encoding.UTF8.GetBytes(s.Sign(_worker).ToJson().Replace("\"worker-1\"", "\"worker-9\"", StringComparison.Ordinal)),
            "garbage" => "{"u8.ToArray(),
            "version" => Json(s with { Version = 2 }),
            _ => Json(s),
        };
        var nonce = mismatch == "nonce" ? RandomNumberGenerator.GetBytes(AttestationStatement.NonceSize) : _nonce;
        Assert.Null(SignedAttestationStatement.Accept(json, Document(), nonce));
    }

    public void Dispose() => _worker.Dispose();
}
