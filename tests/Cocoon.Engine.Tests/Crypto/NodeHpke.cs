using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cocoon.Testing;

namespace Cocoon.Engine.Tests.Crypto;

/// <summary>Runs node/hpke-interop.mjs (the independent @hpke/* implementation) with one JSON request.</summary>
internal static class NodeHpke
{
    private static readonly string Folder = Path.Combine(SharedFiles.RepoRoot, "tests", "Cocoon.Engine.Tests", "node");
    private static readonly Lazy<Task> Installed = new(EnsureInstalledAsync);

    public static async Task<JsonObject> RunAsync(JsonObject request, bool expectFailure = false)
    {
        await Installed.Value;
        var (exitCode, stdout, stderr) = await RunProcessAsync("node", ["hpke-interop.mjs"], request.ToJsonString());
        var answer = JsonNode.Parse(stdout) as JsonObject
            ?? throw new InvalidOperationException($"node printed no JSON (exit {exitCode}): {stdout} {stderr}");
        if (expectFailure)
        {
            Assert.Equal(2, exitCode);
            Assert.True(answer.ContainsKey("error"), answer.ToJsonString());
        }
        else
        {
            Assert.True(exitCode == 0, $"node failed (exit {exitCode}): {stdout} {stderr}");
        }

        return answer;
    }

    /// <summary>./cocoon runs npm ci for this folder; a bare dotnet test does it here once, from the committed lock file.</summary>
    private static async Task EnsureInstalledAsync()
    {
        if (Directory.Exists(Path.Combine(Folder, "node_modules", "@hpke", "core")))
        {
            return;
        }

        var (exitCode, stdout, stderr) = await RunProcessAsync("npm", ["ci", "--ignore-scripts", "--no-audit", "--no-fund"], null);
        if (exitCode != 0)
        {
            throw new InvalidOperationException($"npm ci in {Folder} failed (exit {exitCode}): {stdout} {stderr}");
        }
    }

    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunProcessAsync(string file, string[] args, string? stdin)
    {
        var info = new ProcessStartInfo(file)
        {
            WorkingDirectory = Folder,
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
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin.AsMemory(), timeout.Token);
        }

        process.StandardInput.Close();
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish in 3 minutes");
        }

        return (process.ExitCode, await stdout, await stderr);
    }

    public static string Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(bytes);

    public static byte[] Bytes(JsonNode? node) => Convert.FromHexString(node!.GetValue<string>());

    public static JsonArray Array(IEnumerable<JsonNode?> items) => new([.. items]);

    public static JsonSerializerOptions Json { get; } = new(JsonSerializerDefaults.Web);
}
