using Cocoon.Engine.Attestation;

namespace Cocoon.Engine.Matching;

/// <summary>
/// The trust tier every answer carries, derived from what the gateway verified about the worker:
/// <list type="bullet">
/// <item><c>tee</c>: hardware attestation (Intel TDX: a TD quote whose report data binds the document hash, and an
/// allow-listed MRTD when configured; the quote's Intel signature chain is not checked offline).</item>
/// <item><c>simulated</c>: a platform key the operator listed signed the document. Development only.</item>
/// <item><c>consumer</c>: no TEE at all; the document is signed by the worker's own key only, so nothing proves what
/// code runs or that the prompt stays private. Accepted only when the gateway's policy allows consumer workers, and
/// only for callers who opted in.</item>
/// </list>
/// </summary>
public static class TrustTiers
{
    public const string Tee = "tee";
    public const string Simulated = "simulated";
    public const string Consumer = "consumer";

    /// <summary>Every tier, strongest first (the order lists and labels use).</summary>
    public static readonly IReadOnlyList<string> All = [Tee, Simulated, Consumer];

    /// <summary>The tier of a document's TEE kind; an unknown kind is treated as the weakest tier.</summary>
    public static string FromTeeKind(string? teeKind) => teeKind switch
    {
        TeeKinds.Tdx => Tee,
        TeeKinds.Simulated => Simulated,
        _ => Consumer,
    };

    /// <summary>
    /// What a caller accepts when it says nothing: <c>tee</c>, plus <c>simulated</c> when this gateway trusts simulated
    /// platforms (local development). Never <c>consumer</c>: that is opt-in only.
    /// </summary>
    public static IReadOnlyList<string> Default(bool simulatedAllowed) => simulatedAllowed ? [Tee, Simulated] : [Tee];

    /// <summary>
    /// Parses a caller's list ("tee,consumer" or separate items): known names, lower-cased, de-duplicated, in
    /// <see cref="All"/> order. Returns null with <paramref name="error"/> set when a name is unknown or none is given.
    /// </summary>
    public static IReadOnlyList<string>? Parse(IEnumerable<string>? values, out string? error)
    {
        error = null;
        var wanted = new HashSet<string>(StringComparer.Ordinal);
        foreach (var raw in values ?? [])
        {
            foreach (var part in (raw ?? "").Split([',', ' '], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var name = part.ToLowerInvariant();
                if (!All.Contains(name))
                {
                    error = $"'{part}' is not a trust tier; use tee, simulated or consumer.";
                    return null;
                }

                wanted.Add(name);
            }
        }

        if (wanted.Count == 0)
        {
            error = "At least one trust tier is needed: tee, simulated or consumer.";
            return null;
        }

        return [.. All.Where(wanted.Contains)];
    }
}
