namespace Cocoon.Engine.Matching;

/// <summary>The wire names of <see cref="SlaClass"/>: best-effort, standard, premium.</summary>
public static class SlaClasses
{
    public const string BestEffort = "best-effort";

    public const string Standard = "standard";

    public const string Premium = "premium";

    /// <summary>The class a name states; null, empty or unknown names are best effort (the class that promises nothing).</summary>
    public static SlaClass Parse(string? name) => name?.ToLowerInvariant() switch
    {
        Standard => SlaClass.Standard,
        Premium => SlaClass.Premium,
        _ => SlaClass.BestEffort,
    };

    /// <summary>Like <see cref="Parse"/> but null for a name that is not a class (a request field must be one exactly).</summary>
    public static SlaClass? TryParse(string? name) => name?.ToLowerInvariant() switch
    {
        null or "" => null,
        BestEffort => SlaClass.BestEffort,
        Standard => SlaClass.Standard,
        Premium => SlaClass.Premium,
        _ => null,
    };

    public static string Name(SlaClass sla) => sla switch
    {
        SlaClass.Standard => Standard,
        SlaClass.Premium => Premium,
        _ => BestEffort,
    };
}
