using System.Runtime.InteropServices;
using Cocoon.Local.Ask;
using Cocoon.Local.Chaos;
using Cocoon.Local.Up;
using Cocoon.Local.Verify;

// Ctrl-C and SIGTERM cancel the command instead of killing the process, so up can stop its children in order.
using var stop = new CancellationTokenSource();
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
switch (args)
{
    case ["up", ..]:
        return await UpCommand.RunAsync(args[1..], stop.Token);
    case ["chaos", ..]:
        return await ChaosCommand.RunAsync(args[1..], stop.Token);
    case ["ask", ..]:
        return await AskCommand.RunAsync(args[1..], stop.Token);
    case ["verify", ..]:
        return await VerifyCommand.RunAsync(args[1..], stop.Token);
    default:
        await Console.Error.WriteLineAsync(
            "usage: Cocoon.Local up --gateway PATH --worker PATH [--chain DIR]   (./cocoon up passes these)\n" +
            "       Cocoon.Local ask [--model NAME] [--max-tokens N] \"TEXT\"\n" +
            "       Cocoon.Local verify [--chain URL] RECEIPT-ID\n" +
            "       Cocoon.Local chaos --gateway PATH --worker PATH [--jobs N] [--concurrency C]   (./cocoon chaos passes the paths)");
        return 2;
}
