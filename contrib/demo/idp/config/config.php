<?php
// SimpleSAMLphp for samlhub's compose demo: browsers reach it on
// http://localhost:8081, the demo hub fetches its metadata over the
// compose network. Demo only.
$config = [
    'baseurlpath' => 'http://localhost:8081/',
    'certdir' => '/var/lib/samlhub-demo-idp/cert/',
    'metadatadir' => '/etc/samlhub-demo-idp/metadata/',
    'metadata.sources' => [['type' => 'flatfile', 'directory' => '/etc/samlhub-demo-idp/metadata/']],
    'tempdir' => '/var/lib/samlhub-demo-idp/tmp/',
    'datadir' => '/var/lib/samlhub-demo-idp/tmp/',
    'loggingdir' => '/var/lib/samlhub-demo-idp/tmp/',
    'secretsalt' => 'samlhub-demo-salt-not-secret',
    'auth.adminpassword' => 'demo-admin-not-secret',
    'admin.protectindexpage' => false,
    'admin.protectmetadata' => false,
    'technicalcontact_name' => 'Demo',
    'technicalcontact_email' => 'demo@example.org',
    'timezone' => 'UTC',
    'enable.saml20-idp' => true,
    'enable.shib13-idp' => false,
    'module.enable' => ['exampleauth' => true, 'core' => true, 'saml' => true],
    'logging.level' => SimpleSAML\Logger::NOTICE,
    'logging.handler' => 'errorlog',
    'trusted.url.domains' => null,
    'store.type' => 'phpsession',
    'session.cookie.name' => 'SSPSessionID',
    'session.cookie.secure' => false,
    'session.phpsession.cookiename' => 'SSPPHPSESSID',
    'session.phpsession.savepath' => '/var/lib/samlhub-demo-idp/sessions',
    'session.phpsession.httponly' => true,
    'language.default' => 'en',
    'theme.use' => 'default',
];
