<?php
// The demo hub, as the browser reaches it.
$metadata['http://localhost:8090/saml/metadata'] = [
    'AssertionConsumerService' => [[
        'Binding' => 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST',
        'Location' => 'http://localhost:8090/saml/acs',
        'index' => 0,
    ]],
    'NameIDFormat' => 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
    'simplesaml.nameidattribute' => 'uid',
    'simplesaml.attributes' => true,
    'saml20.sign.response' => true,
    'saml20.sign.assertion' => true,
];
