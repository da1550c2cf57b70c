using System.Diagnostics;
using System.Text;
using Cocoon.Network.Hosting;
using Cocoon.Testing;

namespace Cocoon.Bot.Tests.Join;

/// <summary>The built Cocoon.Worker with `join` (or another command), given only the instruction's variables plus its data folder and test pacing.</summary>
internal sealed class WorkerProcess : IDisposable
{
    private readonly StringBuilder _output = new();

    private WorkerProcess(Process process) => Process = process;

    public Process Process { get; }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>The built Cocoon.Worker binary of this test build's configuration.</summary>
    public static string Executable { get; } = Path.Combine(
        SharedFiles.RepoRoot, "Cocoon.Worker", "bin", AppContext.BaseDirectory.Contains("/Release/", StringComparison.Ordinal) ? "Release" : "Debug", "net10.0", "Cocoon.Worker");

    /// <summary>
    /// What every test worker process runs with: the small model in <paramref name="dataDir"/>, heartbeats and job polls
    /// short enough for tests, and llama.cpp on one thread with two sequences.
    /// </summary>
    public static void SetTestEnvironment(ProcessStartInfo psi, string dataDir)
    {
        ArgumentNullException.ThrowIfNull(psi);
        psi.Environment["COCOON_MODEL"] = SharedFiles.SmallModel;
        psi.Environment["COCOON_DATA"] = dataDir;
        psi.Environment["Worker__HeartbeatInterval"] = "00:00:00.200";
        psi.Environment["Worker__HeartbeatTtl"] = "00:00:01";
        psi.Environment["Worker__JobPoll"] = "00:00:00.050";
        psi.Environment["Llama__Threads"] = "1";
        psi.Environment["Llama__MaxConcurrency"] = "2";
    }

    public static WorkerProcess Start(IReadOnlyDictionary<string, string> variables, string dataDir, string workerId) =>
        Start(variables, dataDir, workerId, ["join"]);

    /// <summary>The binary with other arguments (e.g. provider keygen), the same environment.</summary>
    public static WorkerProcess Start(IReadOnlyDictionary<string, string> variables, string dataDir, string workerId, IReadOnlyList<string> args)
    {
        var psi = new ProcessStartInfo(Executable) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            psi.ArgumentList.Add(arg);
        }

        foreach (var name in CocoonEnvironment.Variables.Keys.Where(n => n != "COCOON_LLAMA_LIB_DIR" && n != "COCOON_LLAMA_BACKEND"))
        {
            psi.Environment.Remove(name);
        }

        foreach (var (name, value) in variables)
        {
            psi.Environment[name] = value;
        }

        SetTestEnvironment(psi, dataDir);
        psi.Environment["COCOON_WORKER_ID"] = workerId;
        var worker = new WorkerProcess(Process.Start(psi) ?? throw new InvalidOperationException("Cocoon.Worker did not start"));
        worker.Process.OutputDataReceived += (_, e) => worker.Append(e.Data);
        worker.Process.ErrorDataReceived += (_, e) => worker.Append(e.Data);
        worker.Process.BeginOutputReadLine();
        worker.Process.BeginErrorReadLine();
        return worker;
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
        }
    }

    public void Dispose()
    {
        if (!Process.HasExited)
        {
            Process.Kill(entireProcessTree: true);
            Process.WaitForExit();
        }

        Process.Dispose();
    }
}
