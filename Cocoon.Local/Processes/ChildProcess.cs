using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Cocoon.Local.Processes;

/// <summary>
/// A process <c>up</c> started and owns: its output is relayed line by line with a name prefix, and stopping it
/// sends SIGTERM first (so Redis flushes its AOF and the worker finishes its lease), then SIGKILL to the whole tree.
/// It gets SIGTERM from the kernel too when up dies without stopping it (a SIGKILL; see <see cref="ParentBound"/>).
/// </summary>
internal sealed partial class ChildProcess : IAsyncDisposable
{
    private readonly Process _process;

    private ChildProcess(string name, Process process)
    {
        Name = name;
        _process = process;
    }

    public string Name { get; }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public Task Exited => _process.WaitForExitAsync();

    public static ChildProcess Start(string name, string fileName, IEnumerable<string> arguments, IReadOnlyDictionary<string, string?> environment, TextWriter output, string? workingDirectory = null)
    {
        var psi = new ProcessStartInfo(fileName)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var a in arguments)
        {
            psi.ArgumentList.Add(a);
        }

        foreach (var (k, v) in environment)
        {
            psi.Environment[k] = v;
        }

        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        var prefix = $"[{name}] ";
        process.OutputDataReceived += (_, e) => Relay(output, prefix, e.Data);
        process.ErrorDataReceived += (_, e) => Relay(output, prefix, e.Data);
        // In a session of its own (a terminal's Ctrl-C reaches only up, which stops the children in order) and bound to
        // up's life: if up is killed outright, the kernel stops the child (see ParentBound).
        if (!ParentBound.StartInOwnSession(process))
        {
            throw new InvalidOperationException($"{fileName} did not start");
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new ChildProcess(name, process);
    }

    /// <summary>SIGTERM, then up to <paramref name="grace"/> for a clean exit, then SIGKILL of the whole tree.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        if (Volatile.Read(ref _disposed) != 0 || _process.HasExited)
        {
            return;
        }

        _ = Kill(_process.Id, Sigterm);
        try
        {
            await _process.WaitForExitAsync().WaitAsync(grace);
        }
        catch (TimeoutException)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
    }

    /// <remarks>
    /// Idempotent: a supervised child that exited is disposed before its restart, and the supervisor's own dispose may
    /// meet it again while the restart waits out its backoff. A second dispose used to read HasExited of a disposed
    /// Process, throw, and abort `up`'s shutdown before it reached the gateways (chaos found them still running).
    /// </remarks>
    public async ValueTask DisposeAsync()
    {
        await StopAsync(TimeSpan.FromSeconds(10));
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _process.Dispose();
        }
    }

    private int _disposed;

    private static void Relay(TextWriter output, string prefix, string? line)
    {
        if (line is not null)
        {
            lock (output)
            {
                output.WriteLine(prefix + line);
            }
        }
    }

    private const int Sigterm = 15;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
