using Cocoon.Bot.MiniApp;

namespace Cocoon.Bot.Tests.MiniApp;

/// <summary>Init data signed in Node by @telegram-apps/init-data-node, validated by ours.</summary>
public sealed class InitDataTests
{
    private const string Token = "7000001:AAFakeButWellFormedTokenForTests_0123456";
    private const long BotId = 7000001;

    private static InitDataValidator Validator(string token = Token) => new(token, TimeSpan.FromHours(1), TimeProvider.System);

    [Fact]
    public async Task Node_signed_init_data_validates_and_names_the_user()
    {
        var signed = await NodeInitDataSigner.SignAsync(Token, 424242, DateTimeOffset.UtcNow.AddMinutes(-5));
        var data = Validator().Validate(signed);
        Assert.Equal(424242, data.User.Id);
        Assert.Equal("Ann Lee", data.User.FirstName);
        Assert.Equal("ann_lee", data.User.Username);
        Assert.Equal("AAHdF6IQAAAAAN0XohDhrOrc", data.Fields["query_id"]);
    }

    [Theory]
    [InlineData("%22id%22%3A424242", "%22id%22%3A424243")]
    [InlineData("query_id=AAH", "query_id=BAH")]
    [InlineData("&auth_date=", "&auth_date=1")]
    public async Task A_tampered_field_is_refused(string original, string replacement)
    {
        var signed = await NodeInitDataSigner.SignAsync(Token, 424242, DateTimeOffset.UtcNow.AddMinutes(-5));
        Assert.Contains(original, signed, StringComparison.Ordinal);
        var tampered = signed.Replace(original, replacement, StringComparison.Ordinal);
        Assert.Throws<InitDataException>(() => Validator().Validate(tampered));
    }

    [Fact]
    public async Task Init_data_signed_for_another_bot_is_refused()
    {
        var signed = await NodeInitDataSigner.SignAsync("7000002:AAAnotherBotsTokenEntirely_000000000000", 424242, DateTimeOffset.UtcNow);
        var e = Assert.Throws<InitDataException>(() => Validator().Validate(signed));
        Assert.Contains("does not verify", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stale_and_future_auth_dates_are_refused()
    {
        var stale = await NodeInitDataSigner.SignAsync(Token, 424242, DateTimeOffset.UtcNow.AddHours(-2));
        Assert.Contains("too old", Assert.Throws<InitDataException>(() => Validator().Validate(stale)).Message, StringComparison.Ordinal);

        var future = await NodeInitDataSigner.SignAsync(Token, 424242, DateTimeOffset.UtcNow.AddMinutes(10));
        Assert.Contains("future", Assert.Throws<InitDataException>(() => Validator().Validate(future)).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("user=%7B%22id%22%3A1%7D&auth_date=1700000000")]
    [InlineData("user=%7B%22id%22%3A1%7D&auth_date=1700000000&hash=zz")]
    [InlineData("a=1&a=2&hash=00")]
    public void Malformed_init_data_is_refused(string initData) =>
        Assert.Throws<InitDataException>(() => Validator().Validate(initData));

    [Fact]
    public async Task Third_party_ed25519_signature_verifies_and_tampering_is_refused()
    {
        var (signed, publicKey) = await NodeInitDataSigner.SignThirdPartyAsync(Token, BotId, 515151, DateTimeOffset.UtcNow.AddMinutes(-1));

        // Both checks hold on the same string: the HMAC covers the signature field, the signature covers the rest.
        Assert.Equal(515151, Validator().Validate(signed).User.Id);
        Assert.Equal(515151, Validator("unused:token").ValidateThirdParty(signed, BotId, publicKey).User.Id);

        Assert.Throws<InitDataException>(() => Validator().ValidateThirdParty(signed, BotId + 1, publicKey));
        Assert.Throws<InitDataException>(() => Validator().ValidateThirdParty(signed, BotId, InitDataValidator.ProductionPublicKeyHex));
        Assert.Throws<InitDataException>(() => Validator().ValidateThirdParty(signed.Replace("%22id%22%3A515151", "%22id%22%3A515152", StringComparison.Ordinal), BotId, publicKey));
    }
}
