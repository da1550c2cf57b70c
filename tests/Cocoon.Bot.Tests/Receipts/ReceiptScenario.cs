using Cocoon.Bot.Tests.Dispatch;

namespace Cocoon.Bot.Tests.Receipts;

/// <summary>What the receipt checks start from: a real worker that answered two requests of one payer, so two receipts wait to be anchored.</summary>
internal static class ReceiptScenario
{
    public static async Task<(DispatchRequest First, DispatchRequest Second, string FirstAnswer)> TwoAnswersAsync(DispatchNetwork stack, CancellationToken cancellationToken)
    {
        await stack.StartAsync(cancellationToken);
        await stack.StartWorkerAsync(cancellationToken);
        var payer = await stack.FundedPayerAsync(1_000_000_000, cancellationToken);
        var first = DispatchNetwork.Request(payer, "Once upon a time", 12);
        var second = DispatchNetwork.Request(payer, "The cat", 8);
        var (answer, _) = await stack.AskAsync(first, cancellationToken);
        await stack.AskAsync(second, cancellationToken);
        return (first, second, answer);
    }
}
