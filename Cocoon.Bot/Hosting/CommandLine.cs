namespace Cocoon.Bot.Hosting;

/// <summary>The commands besides serving: <c>up</c> (the local stack), <c>ask</c> (a client), <c>ledger</c>.</summary>
public static class CommandLine
{
    public static bool IsCommand(string[] args) => args is ["up" or "ask" or "ledger", ..];

    public static async Task<int> RunAsync(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        using var stop = new CancellationTokenSource();
        using var sigint = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
        using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
        return args[0] switch
        {
            "up" => await UpCommand.RunAsync(args[1..], stop.Token),
            "ask" => await AskCommand.RunAsync(args[1..], stop.Token),
            _ => await LedgerCommand.RunAsync(args[1..], stop.Token),
        };
    }
}
