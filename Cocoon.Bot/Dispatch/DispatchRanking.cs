namespace Cocoon.Bot.Dispatch;

/// <summary>Turns the directory's eligible workers into an ordered candidate list for one request.</summary>
internal static class DispatchRanking
{
    public static List<EligibleWorker> Rank(IReadOnlyList<EligibleWorker> eligible, string modelSha, int maxCoefficient, string? region) =>
        [.. eligible
            .Where(w => string.Equals(w.Document.ModelSha256, modelSha, StringComparison.OrdinalIgnoreCase) && w.PriceCoefficient <= maxCoefficient)
            .OrderBy(w => region is not null && !string.Equals(w.Document.Region, region, StringComparison.OrdinalIgnoreCase))
            .ThenBy(w => w.Running * Math.Max(w.AverageJobMilliseconds, 1))
            .ThenBy(w => w.PriceCoefficient)];
}
