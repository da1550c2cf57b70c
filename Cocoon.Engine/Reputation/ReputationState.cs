using System.Text.Json;
using System.Text.Json.Serialization;

namespace Cocoon.Engine.Reputation;

/// <summary>
/// Everything the model keeps about one worker: decayed sums (see <see cref="ReputationPolicy"/>) and lifetime counts
/// for the reasons. Small and flat so a gateway can keep one JSON value per worker in a shared store (a Redis hash field
/// or a ledger row) and every gateway reads the same score. <see cref="Version"/> lets a later shape be read side by side.
/// </summary>
public sealed record ReputationState
{
    public const int CurrentVersion = 1;

    public int Version { get; init; } = CurrentVersion;

    public long Jobs { get; init; }

    public double Completed { get; init; }

    public double Failed { get; init; }

    public double Abandoned { get; init; }

    public double SlaMet { get; init; }

    public double SlowFirstToken { get; init; }

    public double SlowTokens { get; init; }

    public double IntegrityPassed { get; init; }

    /// <summary>Failures weighted by kind (<see cref="ReputationPolicy.IntegrityFailureWeight"/>, <see cref="ReputationPolicy.OverruledWeight"/>).</summary>
    public double IntegrityFailed { get; init; }

    public int SpotChecksPassed { get; init; }

    public int SpotChecksFailed { get; init; }

    public int CanariesPassed { get; init; }

    public int CanariesFailed { get; init; }

    public int OverruledAsChecker { get; init; }

    public int ReceiptMismatches { get; init; }

    /// <summary>Probation (<see cref="ProbationPolicy"/>); null for a worker never put on it and for provider records. Left out of the JSON when null, so records without it keep their shape.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ProbationState? Probation { get; init; }

    public static ReputationState New { get; } = new();

    public int IntegrityVerdicts => SpotChecksPassed + SpotChecksFailed + CanariesPassed + CanariesFailed;

    public string ToJson() => JsonSerializer.Serialize(this, ReputationJson.Default.ReputationState);

    /// <summary>Reads a stored state; throws <see cref="JsonException"/> on anything but this version's exact shape.</summary>
    public static ReputationState FromJson(string json)
    {
        var state = JsonSerializer.Deserialize(json, ReputationJson.Default.ReputationState) ?? throw new JsonException("a reputation state is a JSON object, not null");
        return state.Version == CurrentVersion ? state : throw new JsonException($"reputation state version {state.Version} is not {CurrentVersion}");
    }
}

[JsonSourceGenerationOptions(
    JsonSerializerDefaults.Web,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    IgnoreReadOnlyProperties = true,
    NumberHandling = JsonNumberHandling.Strict)]
[JsonSerializable(typeof(ReputationState))]
[JsonSerializable(typeof(ReputationScore))]
public sealed partial class ReputationJson : JsonSerializerContext;
