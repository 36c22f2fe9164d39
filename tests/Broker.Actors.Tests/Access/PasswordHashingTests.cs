using Broker.Actors.Access;

namespace Broker.Actors.Tests.Access;

/// <summary>Hashes exported by RabbitMQ 3.10.8 (rabbitmqctl export_definitions) log in here unchanged.</summary>
public sealed class PasswordHashingTests
{
    [Theory]
    [InlineData("secret", "1qlL+ISpbcDeA7EXkGXzaqYyfpRKuWdMwT/7knULMU7hYg8o")]
    [InlineData("pässwörd", "NRpJChDq8je7LihScZBeEP3XLZLLaJgBDz9dSCrCb8o92Hhb")]
    [InlineData("correct horse battery staple", "8M6yRm9HXujmtVAAt/ccyS9M+YJ6BV61ky1sVrK1rILNwtgG")]
    [InlineData("guest", "05+xTtqj0R1IGlvzSow3rX90cYWgBbWQj2fKnDMhaZoP1lqA")]
    public void A_rabbitmq_sha256_hash_verifies_its_password_and_nothing_else(string password, string hash)
    {
        Assert.True(PasswordHashing.Verify(hash, PasswordHashing.Sha256, password));
        Assert.False(PasswordHashing.Verify(hash, PasswordHashing.Sha256, password + "x"));
        Assert.False(PasswordHashing.Verify(hash, PasswordHashing.Sha512, password));
    }

    [Fact]
    public void New_hashes_are_salted_and_have_rabbitmqs_shape()
    {
        string a = PasswordHashing.Hash("pw"), b = PasswordHashing.Hash("pw");
        Assert.NotEqual(a, b);
        Assert.Equal(4 + 32, Convert.FromBase64String(a).Length);
        Assert.True(PasswordHashing.Verify(a, PasswordHashing.Sha256, "pw"));
        Assert.Equal(4 + 64, Convert.FromBase64String(PasswordHashing.Hash("pw", PasswordHashing.Sha512)).Length);
        Assert.True(PasswordHashing.Verify(PasswordHashing.Hash("pw", PasswordHashing.Md5), PasswordHashing.Md5, "pw"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("not base64!")]
    [InlineData("AAAA")]
    public void An_empty_or_malformed_hash_matches_no_password(string hash)
    {
        Assert.False(PasswordHashing.Verify(hash, PasswordHashing.Sha256, ""));
        Assert.False(PasswordHashing.Verify(hash, PasswordHashing.Sha256, "pw"));
    }
}
