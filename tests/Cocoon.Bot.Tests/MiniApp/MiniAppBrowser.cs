using System.Text.Json.Nodes;
using Cocoon.Testing;

namespace Cocoon.Bot.Tests.MiniApp;

/// <summary>
/// Runs node/browser.mjs: Debian's chromium (/usr/bin/chromium, which ./cocoon test installs with apt) driven by
/// playwright-core through one Mini App flow. Screenshots go to $COCOON_DATA/test-results/miniapp-screenshots.
/// </summary>
internal static class MiniAppBrowser
{
    private static readonly NodeFolder Folder = new(Path.Combine("tests", "Cocoon.Bot.Tests", "MiniApp", "node"), "playwright-core");

    public static string ScreenshotDir { get; } = Path.Combine(
        Environment.GetEnvironmentVariable("COCOON_DATA") is { Length: > 0 } data ? data : Path.Combine(SharedFiles.RepoRoot, ".cocoon"),
        "test-results", "miniapp-screenshots");

    public static async Task<JsonObject> RunAsync(string flow, Uri baseAddress, string? initData = null, string? prompt = null, JsonObject? extra = null)
    {
        Assert.True(File.Exists("/usr/bin/chromium"), "Debian's chromium is missing: ./cocoon test installs it (apt-get install chromium).");
        var request = new JsonObject
        {
            ["flow"] = flow,
            ["url"] = new Uri(baseAddress, "/miniapp/").ToString(),
            ["initData"] = initData,
            ["prompt"] = prompt,
            ["screenshots"] = ScreenshotDir,
        };
        foreach (var (key, value) in extra ?? [])
        {
            request[key] = value?.DeepClone();
        }

        var (exitCode, stdout, stderr) = await Folder.RunAsync("browser.mjs", stdin: request.ToJsonString(), timeout: TimeSpan.FromMinutes(4));
        var answer = JsonNode.Parse(stdout.Length > 0 ? stdout : "{}") as JsonObject ?? [];
        Assert.True(exitCode == 0, $"node browser.mjs ({flow}) failed (exit {exitCode}): {answer["error"]} console: {answer["console"]} {stderr}");
        return answer;
    }
}
