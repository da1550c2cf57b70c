using System.Text;
using Cocoon.Local.Processes;
using Cocoon.Local.Up;

namespace Cocoon.Local.Tests.Up;

/// <summary>
/// up's shutdown on real child processes: a stop that throws, and a supervisor whose restart failed, no longer keep
/// the later stages' processes running.
/// </summary>
public sealed partial class UpShutdownTests
{
    [Fact]
    public async Task A_failing_stop_and_a_failed_restart_do_not_keep_the_other_processes_running()
    {
        var output = new StringWriter(new StringBuilder());
        var errors = new StringWriter(new StringBuilder());
        var starts = 0;
        // A worker whose restart fails (its program gone): the supervisor's loop ends with the exception.
        var worker = new SupervisedProcess("worker", () => ++starts == 1 ? Sleep("worker", output) : throw new FileNotFoundException("the worker program is gone"), output);
        var gateway = new SupervisedProcess("gateway", () => Sleep("gateway", output), output);
        var redis = new SupervisedProcess("redis", () => Sleep("redis", output), output);
        var pids = new[] { worker.Current.Id, gateway.Current.Id, redis.Current.Id };
        worker.Supervise();
        gateway.Supervise();
        redis.Supervise();
        var gatewayPid = gateway.Current.Id;
        var redisPid = redis.Current.Id;

        Assert.True(Kill(worker.Current.Id, 9) == 0);
        await Assert.ThrowsAsync<FileNotFoundException>(() => worker.Supervision.WaitAsync(TimeSpan.FromMinutes(1)));

        var failed = await UpShutdown.RunAsync(
            [
                [("worker", worker.DisposeAsync), ("broken step", () => throw new InvalidOperationException("cannot signal it"))],
                [("gateway", gateway.DisposeAsync)],
                [("redis", redis.DisposeAsync)],
            ],
            errors);

        Assert.Equal(1, failed);
        Assert.Contains("stopping the broken step failed", errors.ToString(), StringComparison.Ordinal);
        Assert.Contains("the worker's supervisor had stopped: the worker program is gone", output.ToString(), StringComparison.Ordinal);
        Assert.All(pids, pid => Assert.False(Alive(pid), $"process {pid} is still running"));
        Assert.False(Alive(gatewayPid));
        Assert.False(Alive(redisPid));

        // Disposing again (a second stop of the same stack) is harmless.
        await gateway.DisposeAsync();
    }

    private static ChildProcess Sleep(string name, TextWriter output) => ChildProcess.Start(name, "sleep", ["600"], new Dictionary<string, string?>(), output);

    // /proc/PID exists for a live process or an unreaped zombie; ChildProcess waits for its child, so a stopped one is gone.
    private static bool Alive(int pid) => Directory.Exists($"/proc/{pid}") && !File.ReadAllText($"/proc/{pid}/stat").Contains(") Z ", StringComparison.Ordinal);

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "kill")]
    private static partial int Kill(int pid, int signal);
}
