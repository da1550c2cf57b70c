using System.Text.RegularExpressions;
using Cocoon.Bot.Tests.Telegram;
using Cocoon.Ledger.Ton;
using Cocoon.Network.Hosting;
using Cocoon.Testing;

namespace Cocoon.Bot.Tests.Join;

/// <summary>What /provider register tells a provider to run exists: the script command, its flags, the variables the worker reads.</summary>
public sealed partial class ProviderInstructionTests(RedisFixture fixture) : IClassFixture<RedisFixture>
{
    private const long Owner = 7201;

    [Fact]
    public async Task The_printed_instruction_names_a_script_command_flags_and_variables_that_exist()
    {
        await using var api = new FakeBotApi();
        await using var bot = await BotHarness.StartAsync(fixture.Server, api, new ScriptedDispatcher(), null, BotHarness.NewPrefix(), BotHarness.NewHostKey(),
            new Dictionary<string, string?> { ["Gateway:Url"] = "https://gateway.example.org" });
        var answers = new[] { "/provider register", "A100", "80", "us-east", "1", new TonAddress(0, new byte[32]).ToFriendly() };
        for (var i = 0; i < answers.Length; i++)
        {
            api.Enqueue(FakeBotApi.TextUpdate(Owner, Owner, answers[i], i + 1));
            await api.WaitForAsync("sendMessage", _ => true, count: i + 1, timeout: TimeSpan.FromSeconds(30));
        }

        var reply = api.Calls("sendMessage")[^1].Text!;
        Assert.StartsWith("Registered provider", reply, StringComparison.Ordinal);
        Assert.DoesNotContain("COCOON_REDIS", reply, StringComparison.Ordinal);
        var (command, variables) = ProviderInstruction.Parse(reply);
        Assert.Equal("https://gateway.example.org/v1/network/join", variables["COCOON_JOIN_URL"]);
        Assert.StartsWith("cwt_", variables["COCOON_WORKER_TOKEN"], StringComparison.Ordinal);

        // The script knows every command the message prints (the worker's start line and the provider key's), and each
        // command knows every flag its line uses.
        var script = await File.ReadAllTextAsync(Path.Combine(SharedFiles.RepoRoot, "cocoon"));
        var cases = CaseList().Match(script);
        Assert.True(cases.Success, "the cocoon script's command case list was not found");
        Assert.Equal("./cocoon worker", command);
        var lines = ProviderInstruction.Lines(reply);
        Assert.Contains(lines, l => l == "./cocoon provider keygen");
        foreach (var line in lines)
        {
            var name = line[(line.IndexOf("./cocoon ", StringComparison.Ordinal) + "./cocoon ".Length)..].Split(' ')[0];
            Assert.Contains(name, cases.Groups[1].Value.Split('|'));
            var body = script[script.IndexOf($"cmd_{name}() {{", StringComparison.Ordinal)..];
            foreach (Match flag in Flag().Matches(line))
            {
                Assert.Contains($"      {flag.Value})", body, StringComparison.Ordinal);
            }
        }

        // The provider command runs the worker binary's `provider`, which knows `keygen` (the printed line is run for
        // real in ProviderKeyTests).
        Assert.Contains("exec \"$(bin Cocoon.Worker)\" provider \"$@\"", script, StringComparison.Ordinal);

        // Every variable is one the worker reads.
        foreach (var name in variables.Keys)
        {
            Assert.True(CocoonEnvironment.Variables.ContainsKey(name), $"{name} is not a variable the worker reads");
        }
    }

    [GeneratedRegex(@"\n  ((?:[a-z]+\|)+[a-z]+)\) c=""\$1""")]
    private static partial Regex CaseList();

    [GeneratedRegex(@"(?<= )--[a-z-]+")]
    private static partial Regex Flag();
}
