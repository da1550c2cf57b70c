using System.Runtime.InteropServices;
using Cocoon.Ledger.Checks;
using Cocoon.Network.Hosting;

namespace Cocoon.Bot.Hosting;

/// <summary>
/// <c>./cocoon ledger check</c>: the ledger's own invariant checker against the gateway's configured database (an
/// operator's command, so it stays with the gateway and its appsettings.json).
/// </summary>
internal static class LedgerCommand
{
    public static async Task<int> RunAsync(string[] args)
    {
        using var stop = new CancellationTokenSource();
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
        var configuration = new ConfigurationBuilder()
            .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true)
            .AddCocoonEnvironment()
            .Build();
        return await LedgerChecker.RunCliAsync(args, configuration, Console.Out, stop.Token);
    }
}
