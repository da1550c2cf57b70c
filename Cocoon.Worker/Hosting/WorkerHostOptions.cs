using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Cocoon.Worker.Hosting;

/// <summary>Configuration section "Worker" (the parts the Redis-connected host reads).</summary>
public sealed class WorkerHostOptions : IValidatableObject
{
    public const string Section = "Worker";

    /// <summary>The provider's worker token (env COCOON_WORKER_TOKEN). Empty: provider "local" (development).</summary>
    public string? Token { get; set; }

    /// <summary>The network's join endpoint (env COCOON_JOIN_URL), e.g. https://gateway.example/v1/network/join; `join` needs it.</summary>
    public string? JoinUrl { get; set; }

    /// <summary>
    /// "simulated" (a platform key under COCOON_DATA stands in for the hardware), "tdx" (Linux configfs-tsm), or
    /// "none"/"consumer" (no TEE: served only in the consumer tier, where the gateway's policy allows it).
    /// </summary>
    [RegularExpression("^(simulated|tdx|none|consumer)$", ErrorMessage = "Worker:Tee must be 'simulated', 'tdx', or 'none' (also spelled 'consumer': no TEE, consumer tier).")]
    public string Tee { get; set; } = "simulated";

    /// <summary>
    /// The provider's own Ed25519 key file (env COCOON_PROVIDER_KEY; default provider.key in the data folder, where
    /// `./cocoon provider keygen` writes it). When it exists, `join` certifies this worker's key with it.
    /// </summary>
    public string? ProviderKey { get; set; }

    /// <summary>How long the certificate `join` signs with the provider key is valid; the gateway cuts the worker off after it.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "365.00:00:00", ErrorMessage = "Worker:CertificateLifetime must be between 1 second and 365 days.")]
    public TimeSpan CertificateLifetime { get; set; } = TimeSpan.FromDays(30);

    /// <summary>A stable id (e.g. the host name) lets a restarted worker reclaim its stream; empty = a new id per start.</summary>
    [RegularExpression(@"^[A-Za-z0-9_.\-]{1,64}$", ErrorMessage = "Worker:Id may hold only letters, digits and _.- (at most 64).")]
    public string? Id { get; set; }

    [Required(ErrorMessage = "Worker:Region is empty; use e.g. 'eu' or 'local'.")]
    public string Region { get; set; } = "local";

    /// <summary>Price multiplier in thousandths (1000 = 1.0x the network's per-token price).</summary>
    [Range(1, 100_000, ErrorMessage = "Worker:PriceCoefficient must be between 1 and 100000 (1000 = 1.0x).")]
    public int PriceCoefficient { get; set; } = 1000;

    /// <summary>
    /// The service level this worker promises: best-effort (default), standard or premium (published targets: time to
    /// first token and tokens per second). Jobs of a class go only to workers that promise it; a breach refunds the
    /// user a share of the charge from the provider's earnings and lowers the worker's reputation.
    /// </summary>
    [RegularExpression("^(best-effort|standard|premium)$", ErrorMessage = "Worker:SlaClass must be best-effort, standard or premium.")]
    public string SlaClass { get; set; } = "best-effort";

    /// <summary>Jobs run at once; default (0) = what the inference service decodes together.</summary>
    [Range(0, 1024, ErrorMessage = "Worker:MaxConcurrency must be between 0 (= the inference service's) and 1024.")]
    public int MaxConcurrency { get; set; }

    [Range(typeof(TimeSpan), "00:00:00.050", "00:01:00", ErrorMessage = "Worker:HeartbeatInterval must be between 50 ms and 1 minute.")]
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long the registry keeps a worker that stopped heartbeating (how fast gateways notice a dead one).</summary>
    [Range(typeof(TimeSpan), "00:00:00.200", "00:10:00", ErrorMessage = "Worker:HeartbeatTtl must be between 200 ms and 10 minutes.")]
    public TimeSpan HeartbeatTtl { get; set; } = TimeSpan.FromSeconds(3);

    [Range(typeof(TimeSpan), "00:01:00", "30.00:00:00", ErrorMessage = "Worker:AttestationValidity must be between 1 minute and 30 days.")]
    public TimeSpan AttestationValidity { get; set; } = TimeSpan.FromHours(24);

    /// <summary>A job read but not acknowledged for this long is reclaimed (XAUTOCLAIM) and run again.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00", ErrorMessage = "Worker:ReclaimAfter must be between 100 ms and 1 hour.")]
    public TimeSpan ReclaimAfter { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>A job delivered more often than this is poison: it goes to the dead-letter stream.</summary>
    [Range(1, 100, ErrorMessage = "Worker:MaxDeliveries must be between 1 and 100.")]
    public int MaxDeliveries { get; set; } = 3;

    /// <summary>How long one blocking read of the job stream waits (at most 2 s) before the worker loops (checking for reclaims).</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:00:10", ErrorMessage = "Worker:JobPoll must be between 1 ms and 10 s.")]
    public TimeSpan JobPoll { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// After a re-attestation rotates the worker's X25519 key, the previous key keeps opening jobs until its document
    /// expires (gateways may seal to it until then) plus this grace, which must cover the longest job deadline (the
    /// gateway's Api:MaxTimeoutSeconds). Then it is wiped: a later leak of it opens nothing newer.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00", ErrorMessage = "Worker:SealingKeyGrace must be between 1 second and 1 day.")]
    public TimeSpan SealingKeyGrace { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>
    /// How many encapsulated keys (one per job opened) the worker remembers until their job's deadline, so a replayed
    /// job never runs a second time under the same HPKE context. When full of unexpired entries new jobs are refused
    /// ("replay-cache-full") rather than forgetting one.
    /// </summary>
    [Range(16, 10_000_000, ErrorMessage = "Worker:ReplayCacheSize must be between 16 and 10000000.")]
    public int ReplayCacheSize { get; set; } = 200_000;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (HeartbeatTtl < HeartbeatInterval * 2)
        {
            yield return new ValidationResult(
                $"Worker:HeartbeatTtl ({HeartbeatTtl}) must be at least twice Worker:HeartbeatInterval ({HeartbeatInterval}), or one late heartbeat drops the worker.");
        }
    }
}
