using Cocoon.Engine.Protocol;

namespace Cocoon.Network.Tests.Transport;

/// <summary>A worker's registration, a job envelope and a result as the transport tests send them: the content does not matter, only that it is well formed.</summary>
internal static class TransportSamples
{
    public static WorkerRegistration Registration(string id, int max = 2) => new()
    {
        WorkerId = id,
        ModelName = "m",
        ModelSha256 = new string('a', 64),
        Attestation = [1, 2, 3],
        MaxConcurrency = max,
        StartedAt = DateTimeOffset.UtcNow,
    };

    public static JobEnvelope Job(string workerId, string requestId) => new()
    {
        RequestId = requestId,
        Attempt = 0,
        WorkerId = workerId,
        ModelSha256 = new string('a', 64),
        ReplyTo = "gw",
        RecipientKey = new byte[32],
        EncapsulatedKey = new byte[32],
        Ciphertext = [9, 9, 9],
        IssuedAt = DateTimeOffset.UtcNow,
        Deadline = DateTimeOffset.UtcNow.AddMinutes(1),
    };

    public static ResultEnvelope Result(string requestId) => new()
    {
        RequestId = requestId,
        Attempt = 0,
        WorkerId = "a",
        Sequence = 0,
        Kind = ResultKind.Error,
        Error = "test",
    };
}
