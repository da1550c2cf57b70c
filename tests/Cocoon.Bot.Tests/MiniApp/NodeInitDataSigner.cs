using System.Text.Json.Nodes;
using Cocoon.Testing;

namespace Cocoon.Bot.Tests.MiniApp;

/// <summary>Runs node/sign.mjs: init data signed by @telegram-apps/init-data-node, an implementation independent of ours.</summary>
internal static class NodeInitDataSigner
{
    private static readonly NodeFolder Folder = new(Path.Combine("tests", "Cocoon.Bot.Tests", "MiniApp", "node"), Path.Combine("@telegram-apps", "init-data-node"));

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
        var (exitCode, stdout, stderr) = await Folder.RunAsync("sign.mjs", stdin: request.ToJsonString());
        Assert.True(exitCode == 0, $"node sign.mjs failed (exit {exitCode}): {stdout} {stderr}");
        return JsonNode.Parse(stdout) as JsonObject ?? throw new InvalidOperationException("node printed no JSON: " + stdout);
    }
}
