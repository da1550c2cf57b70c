using System.ComponentModel.DataAnnotations;

namespace Cocoon.Bot.Dispatch;

/// <summary>A model the network serves: its public name and the SHA-256 of the GGUF file every worker must load.</summary>
public sealed class ServedModelOptions
{
    [Required(ErrorMessage = "Gateway:Models:N:Name is empty.")]
    public string Name { get; set; } = string.Empty;

    [Required(ErrorMessage = "Gateway:Models:N:Sha256 is empty; use the lower-case hex SHA-256 of the GGUF file (sha256sum).")]
    [RegularExpression("^[0-9a-fA-F]{64}$", ErrorMessage = "Gateway:Models:N:Sha256 must be 64 hex digits (sha256sum of the GGUF file).")]
    public string Sha256 { get; set; } = string.Empty;
}

/// <summary>Configuration section "Gateway" (the parts the dispatcher reads).</summary>
public sealed class DispatchOptions : IValidatableObject
{
    public const string Section = "Gateway";

    /// <summary>Names this gateway's result stream; unique per running instance (default: random per start).</summary>
    [RegularExpression(@"^[A-Za-z0-9_.\-]{1,64}$", ErrorMessage = "Gateway:InstanceId may hold only letters, digits and _.- (at most 64).")]
    public string? InstanceId { get; set; }

    /// <summary>Worker measurements (lower-case hex SHA-256) allowed to receive jobs.</summary>
    public List<string> AllowedMeasurements { get; set; } = [];

    /// <summary>
    /// Local development only: accept any measurement from a worker attested by the simulated TEE (a build you just
    /// made has a measurement nobody wrote down). Logged as a warning at start. Never with real TEE workers.
    /// </summary>
    public bool AcceptAnySimulatedMeasurement { get; set; }

    /// <summary>Ed25519 public keys (hex) of simulated TEE platforms whose attestations are trusted (needs AllowSimulated).</summary>
    public List<string> TrustedSimulatedPlatformKeys { get; set; } = [];

    /// <summary>
    /// Development only: accept workers attested by the simulated TEE (a key on the worker's disk stands in for the
    /// hardware, so its documents prove nothing about the machine). Off by default; `./cocoon up` and the tests turn
    /// it on. Logged as a warning at start. Needs at least one TrustedSimulatedPlatformKeys entry.
    /// </summary>
    public bool AllowSimulated { get; set; }

    /// <summary>
    /// Accept TDX quotes whose report data binds the document although their Intel signature chain cannot be checked
    /// here (no PCS collateral offline). Off by default: TDX workers are then refused with "tdx-unverifiable".
    /// </summary>
    public bool AcceptUnverifiedTdxQuotes { get; set; }

    /// <summary>When non-empty, a TDX quote's MRTD (hex) must be one of these.</summary>
    public List<string> AllowedTdxMrTd { get; set; } = [];

    /// <summary>
    /// Accept workers without a TEE (Worker:Tee=none) into the separate "consumer" trust tier, priced by
    /// Pricing:Consumer. They get jobs only from callers who list "consumer" among the tiers they accept. Off by default.
    /// </summary>
    public bool AllowConsumerWorkers { get; set; }

    /// <summary>Accept workers without a provider token (provider "local"). Local development only.</summary>
    public bool AllowLocalProvider { get; set; }

    /// <summary>Models the network serves. Empty: any model a policy-passing worker registered (local development).</summary>
    public List<ServedModelOptions> Models { get; set; } = [];

    /// <summary>How many workers one request may be sealed to in turn (the first plus re-dispatches).</summary>
    [Range(1, 10, ErrorMessage = "Gateway:MaxAttempts must be between 1 and 10.")]
    public int MaxAttempts { get; set; } = 3;

    /// <summary>A worker that sends nothing for this long on a job is given up (it may be alive but stuck).</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00", ErrorMessage = "Gateway:StallTimeout must be between 100 ms and 1 hour.")]
    public TimeSpan StallTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How often the gateway re-reads the worker registry (a dead worker is noticed within this plus its heartbeat TTL).</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "00:01:00", ErrorMessage = "Gateway:RegistryRefresh must be between 50 ms and 1 minute.")]
    public TimeSpan RegistryRefresh { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// After this gateway's own Redis connection comes back, workers it knew before the outage count as registered for
    /// this long even while their entries are missing: a registration (heartbeat TTL 3 s) lapses during a Redis
    /// restart, and without the grace every attempt in flight would be given up as worker-lost although its worker is
    /// still generating. Workers re-register as soon as their own connection is back, well within this.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:05:00", ErrorMessage = "Gateway:RedisReconnectGrace must be between 0 and 5 minutes.")]
    public TimeSpan RedisReconnectGrace { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Attestation documents older than this are refused even if not yet expired.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "30.00:00:00", ErrorMessage = "Gateway:MaxAttestationAge must be between 1 second and 30 days.")]
    public TimeSpan MaxAttestationAge { get; set; } = TimeSpan.FromHours(24);

    /// <summary>
    /// A worker's signed heartbeat older than this (by the time it signed, give or take the same for clock skew) is not
    /// believed: a copy of its last entry cannot keep a dead worker matched longer than this.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00", ErrorMessage = "Gateway:HeartbeatMaxAge must be between 1 second and 1 hour.")]
    public TimeSpan HeartbeatMaxAge { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long one blocking read of the result stream waits (at most 2 s) before the reader loops (touching the stream's TTL).</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:00:10", ErrorMessage = "Gateway:ResultPoll must be between 1 ms and 10 s.")]
    public TimeSpan ResultPoll { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// Base64 secret of at least 32 bytes for the prefix-cache scopes (HMAC of payer and conversation, see
    /// CacheScopes); the same on every gateway instance so a conversation keeps its scope. Empty: a random key per start.
    /// </summary>
    public string? CacheScopeKey { get; set; }

    /// <summary>Requests that may wait for a slot per model when every worker is busy; one more gets 429 with Retry-After.</summary>
    [Range(0, 100_000, ErrorMessage = "Gateway:QueueDepth must be between 0 (no waiting: busy is an immediate 429) and 100000.")]
    public int QueueDepth { get; set; } = 256;

    /// <summary>How long a request waits in the admission queue at most (never past its own timeout).</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00", ErrorMessage = "Gateway:QueueWait must be between 0 and 10 minutes.")]
    public TimeSpan QueueWait { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The reputation score (0..1, see Cocoon.Engine/Reputation) below which a worker gets no job unless the caller
    /// sets its own floor. A new worker starts at about 0.90; two failed jobs in its first twenty take it below 0.85.
    /// </summary>
    [Range(0.0, 1.0, ErrorMessage = "Gateway:ReputationFloor must be between 0 (match any worker) and 1.")]
    public double ReputationFloor { get; set; } = 0.85;

    /// <summary>SLA class targets and the refund share (Gateway:Sla:*).</summary>
    public Reputation.SlaOptions Sla { get; set; } = new();

    /// <summary>Blind canaries (Gateway:Canaries:*): off unless an interval and a bank are set.</summary>
    public Reputation.CanaryOptions Canaries { get; set; } = new();

    /// <summary>Spot-check replays (Gateway:Replays:*).</summary>
    public Reputation.ReplayOptions Replays { get; set; } = new();

    /// <summary>How long a stopped answer waits for the worker's receipt for the part taken (after that it is not billed).</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:01:00", ErrorMessage = "Gateway:StoppedReceiptWait must be between 10 ms and 1 minute.")]
    public TimeSpan StoppedReceiptWait { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long GET /v1/attestation waits for each worker's signed statement over the client's nonce.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:01:00", ErrorMessage = "Gateway:AttestationChallengeWait must be between 100 ms and 1 minute.")]
    public TimeSpan AttestationChallengeWait { get; set; } = TimeSpan.FromSeconds(5);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!string.IsNullOrEmpty(CacheScopeKey))
        {
            var bytes = new byte[CacheScopeKey.Length];
            if (!Convert.TryFromBase64String(CacheScopeKey, bytes, out var length) || length < 32)
            {
                yield return new ValidationResult("Gateway:CacheScopeKey must be base64 of at least 32 random bytes (e.g. `openssl rand -base64 32`), or empty for a random key per start.");
            }
        }

        if (TrustedSimulatedPlatformKeys.Count > 0 && !AllowSimulated)
        {
            yield return new ValidationResult(
                "Gateway:TrustedSimulatedPlatformKeys is set but Gateway:AllowSimulated is false. Simulated TEE workers are for development only: " +
                "set Gateway:AllowSimulated=true to accept them on purpose, or remove the keys.");
        }

        if (AllowSimulated && TrustedSimulatedPlatformKeys.Count == 0)
        {
            yield return new ValidationResult(
                "Gateway:AllowSimulated is true but Gateway:TrustedSimulatedPlatformKeys is empty, so no simulated worker could be trusted: " +
                "add the key the worker's `platform-key` command prints.");
        }

        foreach (var key in TrustedSimulatedPlatformKeys)
        {
            if (key.Length != 64 || !key.All(Uri.IsHexDigit))
            {
                yield return new ValidationResult($"Gateway:TrustedSimulatedPlatformKeys has '{key}', which is not a 64-digit hex Ed25519 public key (the worker's `platform-key` command prints it).");
            }
        }

        foreach (var m in AllowedMeasurements)
        {
            if (m.Length != 64 || !m.All(Uri.IsHexDigit))
            {
                yield return new ValidationResult($"Gateway:AllowedMeasurements has '{m}', which is not a 64-digit hex SHA-256 measurement.");
            }
        }

        var sla = new List<ValidationResult>();
        if (!Validator.TryValidateObject(Sla, new ValidationContext(Sla), sla, validateAllProperties: true))
        {
            foreach (var r in sla)
            {
                yield return r;
            }
        }

        if (!(Replays.Fraction is >= 0 and <= 1))
        {
            yield return new ValidationResult("Gateway:Replays:Fraction must be between 0 (off) and 1 (every request).");
        }

        if (!(Replays.NewcomerFraction is >= 0 and <= 1) || Replays.NewcomerJobs < 0)
        {
            yield return new ValidationResult("Gateway:Replays:NewcomerFraction must be between 0 and 1 and Gateway:Replays:NewcomerJobs 0 (off) or more.");
        }

        if (!string.IsNullOrEmpty(Replays.Secret))
        {
            var bytes = new byte[Replays.Secret.Length];
            if (!Convert.TryFromBase64String(Replays.Secret, bytes, out var length) || length < 32)
            {
                yield return new ValidationResult("Gateway:Replays:Secret must be base64 of at least 32 random bytes (e.g. `openssl rand -base64 32`), or empty for a random one per start.");
            }
        }

        foreach (var entry in Canaries.Bank)
        {
            var results = new List<ValidationResult>();
            if (!Validator.TryValidateObject(entry, new ValidationContext(entry), results, validateAllProperties: true))
            {
                foreach (var r in results)
                {
                    yield return r;
                }
            }
        }

        foreach (var model in Models)
        {
            var context = new ValidationContext(model);
            var results = new List<ValidationResult>();
            if (!Validator.TryValidateObject(model, context, results, validateAllProperties: true))
            {
                foreach (var r in results)
                {
                    yield return r;
                }
            }
        }
    }
}
