using System.Diagnostics;
using System.Text.Json.Nodes;
using Cocoon.Testing;

namespace Cocoon.Bot.Tests.MiniApp;

/// <summary>Runs node/sign.mjs: init data signed by @telegram-apps/init-data-node, an implementation independent of ours.</summary>
internal static class NodeInitDataSigner
{
    private static readonly string Folder = Path.Combine(SharedFiles.RepoRoot, "tests", "Cocoon.Bot.Tests", "MiniApp", "node");
    private static readonly Lazy<Task> Installed = new(EnsureInstalledAsync);

    public static async Task<string> SignAsync(string token, long userId, DateTimeOffset authDate, string firstName = "Ann Lee")
    {
        var answer = await RunAsync(Request(token, userId, authDate, firstName));
        return answer["initData"]!.GetValue<string>();
    }

    /// <summary>Init data whose Ed25519 <c>signature</c> is made by a fresh Node key; returns that key's public half too.</summary>
    public static async Task<(string InitData, string PublicKeyHex)> SignThirdPartyAsync(string token, long botId, long userId, DateTimeOffset authDate)
    {
        var request = Request(token, userId, authDate, "Bo");
        request["thirdParty"] = new JsonObject { ["botId"] = botId };
        var answer = await RunAsync(request);
        return (answer["initData"]!.GetValue<string>(), answer["publicKeyHex"]!.GetValue<string>());
    }

    private static JsonObject Request(string token, long userId, DateTimeOffset authDate, string firstName) => new()
    {
        ["token"] = token,
        ["authDate"] = authDate.ToUnixTimeSeconds(),
        ["data"] = new JsonObject
        {
            ["query_id"] = "AAHdF6IQAAAAAN0XohDhrOrc",
            ["user"] = new JsonObject { ["id"] = userId, ["first_name"] = firstName, ["username"] = "ann_lee", ["language_code"] = "en" },
        },
    };

    private static async Task<JsonObject> RunAsync(JsonObject request)
    {
        await Installed.Value;
        var (exitCode, stdout, stderr) = await RunProcessAsync("node", ["sign.mjs"], request.ToJsonString());
        Assert.True(exitCode == 0, $"node sign.mjs failed (exit {exitCode}): {stdout} {stderr}");
        return JsonNode.Parse(stdout) as JsonObject ?? throw new InvalidOperationException("node printed no JSON: " + stdout);
    }

    /// <summary>./cocoon runs npm ci for this folder; a bare dotnet test does it here once, from the committed lock file.</summary>
    private static async Task EnsureInstalledAsync()
    {
        if (Directory.Exists(Path.Combine(Folder, "node_modules", "@telegram-apps", "init-data-node")))
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
}
