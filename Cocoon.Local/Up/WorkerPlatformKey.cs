using System.Diagnostics;

namespace Cocoon.Local.Up;

/// <summary>
/// The simulated TEE key of this machine's worker, as the worker itself reports it (<c>Cocoon.Worker platform-key</c>),
/// so the gateway can be told to trust it without anyone reading the worker's files.
/// </summary>
internal static class WorkerPlatformKey
{
    public static async Task<string> AskAsync(string workerExe, IReadOnlyDictionary<string, string?> environment, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(workerExe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("platform-key");
        foreach (var (name, value) in environment)
        {
            if (value is null)
            {
                start.Environment.Remove(name);
            }
            else
            {
                start.Environment[name] = value;
            }
        }

        using var process = Process.Start(start) ?? throw new UpSettingsException($"could not start {workerExe}");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        var key = (await stdout).Trim();
        if (process.ExitCode != 0 || key.Length != 64)
        {
            throw new UpSettingsException($"the worker could not tell its simulated platform key (exit {process.ExitCode}): {(await stderr).Trim()}");
        }

        return key;
    }
}
