using Cocoon.Network.Hosting;
using Cocoon.Ledger.Checks;

namespace Cocoon.Bot.Hosting;

/// <summary><c>./cocoon ledger check</c>: the ledger's own invariant checker against the configured database.</summary>
internal static class LedgerCommand
{
    public static Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var configuration = new ConfigurationBuilder()
            .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true)
            .AddCocoonEnvironment()
            .Build();
        return LedgerChecker.RunCliAsync(args, configuration, Console.Out, cancellationToken);
    }
}
