using System.Text.Json;
using System.Text.Json.Nodes;
using Cocoon.Testing;

namespace Cocoon.Network.Tests.Interop;

/// <summary>Runs Interop/node/hpke-interop.mjs (the independent @hpke/* and Ed25519 implementations) with one JSON request.</summary>
internal static class NodeHpke
{
    private static readonly NodeFolder Folder = new(Path.Combine("tests", "Cocoon.Network.Tests", "Interop", "node"), Path.Combine("@hpke", "core"));

    public static async Task<JsonObject> RunAsync(JsonObject request, bool expectFailure = false)
    {
        var (exitCode, stdout, stderr) = await Folder.RunAsync("hpke-interop.mjs", stdin: request.ToJsonString());
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

    public static string Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(bytes);

    public static byte[] Bytes(JsonNode? node) => Convert.FromHexString(node!.GetValue<string>());

    public static JsonArray Array(IEnumerable<JsonNode?> items) => new([.. items]);

    public static JsonSerializerOptions Json { get; } = new(JsonSerializerDefaults.Web);
}
