using System.Diagnostics;

namespace Cocoon.Testing;

/// <summary>The exit code and output of one Node (or npm) run.</summary>
public sealed record NodeResult(int ExitCode, string Stdout, string Stderr);

/// <summary>
/// A folder of the repo with a committed package-lock.json whose Node scripts tests run as independent peers
/// (@hpke/*, @ton/core, @telegram-apps/init-data-node). ./cocoon runs npm ci there; a bare `dotnet test` does it
/// here, once per process, from the same lock file.
/// </summary>
public sealed class NodeFolder
{
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(3);
    private readonly string _installedMarker;
    private readonly Lazy<Task> _installed;

    /// <param name="relativePath">The folder, relative to the repository root.</param>
    /// <param name="installedMarker">A path under node_modules that exists once the packages are installed.</param>
    public NodeFolder(string relativePath, string installedMarker)
    {
        Path = System.IO.Path.Combine(SharedFiles.RepoRoot, relativePath);
        _installedMarker = installedMarker;
        _installed = new Lazy<Task>(InstallAsync, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    public string Path { get; }

    public Task EnsureInstalledAsync() => _installed.Value;

    /// <summary>Runs `node script args…` in the folder, feeding stdin when given; throws on a time-out, not on a non-zero exit.</summary>
    public async Task<NodeResult> RunAsync(string script, IReadOnlyList<string>? args = null, string? stdin = null, TimeSpan? timeout = null)
    {
        await EnsureInstalledAsync();
        return await RunProcessAsync("node", [script, .. args ?? []], stdin, timeout ?? DefaultTimeout);
    }

    private async Task InstallAsync()
    {
        if (Directory.Exists(System.IO.Path.Combine(Path, "node_modules", _installedMarker)))
        {
            return;
        }

        var result = await RunProcessAsync("npm", ["ci", "--ignore-scripts", "--no-audit", "--no-fund"], null, DefaultTimeout);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"npm ci in {Path} failed (exit {result.ExitCode}): {result.Stdout} {result.Stderr}");
        }
    }

    private async Task<NodeResult> RunProcessAsync(string file, IReadOnlyList<string> args, string? stdin, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(file)
        {
            WorkingDirectory = Path,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {file}");
        using var cts = new CancellationTokenSource(timeout);
        var stdout = process.StandardOutput.ReadToEndAsync(cts.Token);
        var stderr = process.StandardError.ReadToEndAsync(cts.Token);
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin.AsMemory(), cts.Token);
        }

        process.StandardInput.Close();
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish in {timeout}");
        }

        return new NodeResult(process.ExitCode, await stdout, await stderr);
    }
}
