using System.ComponentModel.DataAnnotations;
using Cocoon.Engine.Attestation;
using Cocoon.Ledger;
using Cocoon.Ledger.Receipts;
using Microsoft.Extensions.Options;

namespace Cocoon.Bot.Receipts;

/// <summary>The "Receipts" configuration section.</summary>
public sealed class ReceiptAnchorOptions
{
    public const string Section = "Receipts";

    /// <summary>How often the receipts stored since the last anchor are committed on TON as one Merkle root.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00", ErrorMessage = "Receipts:AnchorPeriod must be between 1 second and 1 day (e.g. 00:05:00).")]
    public TimeSpan AnchorPeriod { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>At most this many receipts per root; the rest wait for the next period.</summary>
    [Range(1, 1_000_000, ErrorMessage = "Receipts:AnchorMaxLeaves must be 1..1000000.")]
    public int AnchorMaxLeaves { get; set; } = 100_000;
}

public static class ReceiptAnchoringServiceCollectionExtensions
{
    /// <summary>Anchors receipts on TON every Receipts:AnchorPeriod. Only where a chain is configured (it needs the network wallet).</summary>
    public static IServiceCollection AddReceiptAnchoring(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ReceiptAnchorOptions>().Bind(configuration.GetSection(ReceiptAnchorOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<ReceiptAnchorRound>();
        services.AddHostedService<ReceiptAnchorService>();
        return services;
    }
}

/// <summary>
/// One anchoring round: first records the transactions of anchors sent earlier, then builds the Merkle tree
/// (<see cref="ReceiptMerkle"/>) over the receipts stored since and commits its root from the network wallet.
/// </summary>
public sealed partial class ReceiptAnchorRound(ReceiptStore store, IServiceScopeFactory scopes, IOptions<ReceiptAnchorOptions> options, ILogger<ReceiptAnchorRound> logger)
{
    /// <summary>Returns the anchor it committed, or null when no receipt was waiting.</summary>
    public async Task<ReceiptAnchor?> RunAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var committer = scope.ServiceProvider.GetRequiredService<ReceiptRootCommitter>();
        await committer.SettleAsync(cancellationToken).ConfigureAwait(false);

        var receipts = await store.UnanchoredAsync(options.Value.AnchorMaxLeaves, cancellationToken).ConfigureAwait(false);
        if (receipts.Count == 0)
        {
            return null;
        }

        var leaves = receipts.Select(r => ReceiptMerkle.Leaf(SignedUsageReceipt.FromJson(r.SignedReceiptJson))).ToList();
        var root = ReceiptMerkle.Root(leaves);
        var anchor = await committer.CommitAsync(root, [.. receipts.Select(r => r.RequestId)], cancellationToken).ConfigureAwait(false);
        LogCommitted(logger, anchor.Id, anchor.RootHex, receipts.Count);
        return anchor;
    }

    [LoggerMessage(EventId = LogEvents.Receipts + 2, Level = LogLevel.Information, Message = "Receipts anchor {AnchorId}: root {Root} over {Count} receipts sent to the chain")]
    private static partial void LogCommitted(ILogger logger, long anchorId, string root, int count);
}

/// <summary>Runs <see cref="ReceiptAnchorRound"/> every Receipts:AnchorPeriod.</summary>
internal sealed class ReceiptAnchorService(ReceiptAnchorRound round, IOptions<ReceiptAnchorOptions> options, TimeProvider time, ILogger<ReceiptAnchorService> logger)
    : PeriodicService(time, logger)
{
    protected override TimeSpan Interval => options.Value.AnchorPeriod;

    protected override Task RunRoundAsync(CancellationToken cancellationToken) => round.RunAsync(cancellationToken);
}
