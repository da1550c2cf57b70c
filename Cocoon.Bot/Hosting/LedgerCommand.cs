namespace Cocoon.Bot.Hosting;

/// <summary><c>./cocoon ledger check</c>: runs the ledger's invariant checker against the configured database.</summary>
internal static class LedgerCommand
{
    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        _ = cancellationToken;
        await Console.Error.WriteLineAsync($"ledger {string.Join(' ', args)}: the ledger checker is not merged into this build yet.");
        return 2;
    }
}
