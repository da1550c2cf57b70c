using System.Collections.Concurrent;
using System.Diagnostics;

namespace Cocoon.Local.Processes;

/// <summary>
/// Starts processes that die with this one. <c>up</c> stops its children in order on Ctrl-C or SIGTERM; but a SIGKILL
/// (of up alone or of its whole process group: the children run in sessions of their own, so a group kill never
/// reaches them) ends up with no chance to do so, and its gateways, workers and Redis ran on with parent pid 1. Each
/// child is therefore started through <c>setpriv --pdeathsig TERM</c>: the kernel sends it SIGTERM when up dies, however
/// up died, and it stops as it would on up's own SIGTERM (Redis flushes its AOF, a worker gives back its lease).
/// </summary>
/// <remarks>
/// Linux sends the parent-death signal when the <em>thread</em> that forked the child ends, not the process, and .NET
/// forks on the calling thread: a child started from a thread-pool thread would be killed when that thread retires
/// after idling. So every start runs on one dedicated thread that lives until the process ends. setpriv execs in place
/// (as setsid does), so the pid is the child's own. Without setpriv (not Linux) a child is started plainly.
/// </remarks>
internal static class ParentBound
{
    private static readonly BlockingCollection<(Process Process, TaskCompletionSource<bool> Started)> Starts = new();
    private static readonly Lazy<Thread> Starter = new(() =>
    {
        var thread = new Thread(StartLoop) { IsBackground = true, Name = "cocoon-child-starter" };
        thread.Start();
        return thread;
    });

    /// <summary>setpriv, when this system has it; its path.</summary>
    public static string? Setpriv { get; } = OperatingSystem.IsLinux() ? Executables.FindOnPath("setpriv") : null;

    /// <summary>
    /// Prefixes <paramref name="process"/>'s program with <c>setpriv --pdeathsig TERM --</c> (when available), then starts it on
    /// the starter thread. Returns Process.Start's result.
    /// </summary>
    public static bool Start(Process process)
    {
        ArgumentNullException.ThrowIfNull(process);
        if (Setpriv is { } setpriv)
        {
            var psi = process.StartInfo;
            var program = psi.FileName;
            var arguments = psi.ArgumentList.ToList();
            psi.FileName = setpriv;
            psi.ArgumentList.Clear();
            foreach (var a in new[] { "--pdeathsig", "TERM", "--", program }.Concat(arguments))
            {
                psi.ArgumentList.Add(a);
            }
        }

        var started = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        _ = Starter.Value;
        Starts.Add((process, started));
        return started.Task.GetAwaiter().GetResult();
    }

    /// <summary>setsid, when this system has it; its path.</summary>
    public static string? Setsid { get; } = OperatingSystem.IsLinux() ? Executables.FindOnPath("setsid") : null;

    /// <summary>
    /// <see cref="Start"/> in a session (and process group) of its own: <c>setpriv --pdeathsig TERM -- setsid program</c>.
    /// A terminal's Ctrl-C signals its whole foreground process group at once; a child in up's group would get it too and
    /// stop on its own, the chain before the gateways still reading it. Outside up's group only up gets it, and up stops
    /// the children in order. setsid forks only when its caller leads a process group, which a freshly forked child
    /// never does, so it execs in place and the pid (and the parent-death signal setpriv set before it) stay the child's.
    /// </summary>
    public static bool StartInOwnSession(Process process)
    {
        ArgumentNullException.ThrowIfNull(process);
        if (Setsid is { } setsid)
        {
            var psi = process.StartInfo;
            var program = psi.FileName;
            psi.FileName = setsid;
            psi.ArgumentList.Insert(0, program);
        }

        return Start(process);
    }

    private static void StartLoop()
    {
        foreach (var (process, started) in Starts.GetConsumingEnumerable())
        {
            try
            {
                started.SetResult(process.Start());
            }
#pragma warning disable CA1031 // handed to the caller, on its own thread
            catch (Exception ex)
#pragma warning restore CA1031
            {
                started.SetException(ex);
            }
        }
    }
}
